"""Evaluation: α grid, change metrics, R², class preservation on hand-made arrays; a short evaluation and its
files on a tiny BigGAN; the world's true factors on a (random) shapes generator."""

import csv
import json
import warnings
from importlib.resources import files

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from assessors import create_assessor
from ganalyze.build import build_generator
from ganalyze.errors import ConfigError
from ganalyze.evaluation import (DIRECTIONS, EvalSettings, alpha_grid, change_metrics, class_metrics, evaluate,
                                 save_evaluation, score_metrics, world_tools)
from ganalyze.fast_path import FastPath
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.transformers import LinearTransformer
from ganalyze.sampling import latents_for_seeds
from ganalyze.visuals import image_grid, plot_changes
from ganalyze.walk import walk

ALPHAS = np.array([-0.5, -0.25, 0.0, 0.25, 0.5])  # exact in binary: changes are exact
INSIDE = np.array([False, True, True, True, False])


def test_alpha_grid_spans_and_exceeds_the_trained_range_and_holds_its_ends_and_zero():
    grid = alpha_grid((-0.1, 0.1), 2.0, 9)
    assert grid[0] == -0.2 and grid[-1] == 0.2 and {-0.1, 0.0, 0.1} <= set(grid.tolist()) and len(grid) == 9
    assert set(alpha_grid((0.0, 0.3), 1.5, 4).tolist()) == {0.0, 0.15, 0.3, 0.45}


def test_change_metrics_of_a_perfect_and_a_null_direction():
    base = np.array([[1.0], [2.0], [4.0]])
    perfect = change_metrics(ALPHAS, base + 2 * ALPHAS, INSIDE)
    assert perfect["slope"] == pytest.approx(2.0) and perfect["spearman"] == pytest.approx(1.0)
    assert perfect["monotonic_fraction"] == 1.0 and perfect["mean_change"] == pytest.approx((2 * ALPHAS).tolist())
    null = change_metrics(ALPHAS, np.repeat(base, 5, axis=1), INSIDE)
    assert null["spearman"] == 0.0 and null["monotonic_fraction"] == 0.0
    decreasing = change_metrics(ALPHAS, base - ALPHAS, INSIDE)
    assert decreasing["spearman"] == pytest.approx(-1.0) and decreasing["monotonic_fraction"] == 1.0


def test_a_seed_that_reverses_inside_the_range_is_not_monotonic():
    values = np.array([[0, 1, 2, 3, 4], [0, 2, 1, 3, 4.0]])  # the second dips between α = -0.25 and 0
    assert change_metrics(ALPHAS, values, INSIDE)["monotonic_fraction"] == 0.5


def test_hue_changes_wrap_around_the_circle():
    values = np.array([[350.0, 355.0, 0.0, 5.0, 10.0]])
    metrics = change_metrics(ALPHAS, values, INSIDE, period=360.0)
    assert metrics["mean_change"] == pytest.approx([-10, -5, 0, 5, 10]) and metrics["spearman"] == pytest.approx(1.0)


def test_r2_against_the_target_line_with_clipping():
    base = np.array([[0.25], [0.5], [0.875]])
    clipped = np.clip(base + ALPHAS, 0, 1)
    assert score_metrics(ALPHAS, clipped, INSIDE, (0.0, 1.0))["r2"] == pytest.approx(1.0)
    assert score_metrics(ALPHAS, clipped, INSIDE, (0.0, 1.0))["r2_change"] == pytest.approx(1.0)
    spread = np.array([[0.0], [4.0], [8.0]])
    null = score_metrics(ALPHAS, np.repeat(spread, 5, axis=1), INSIDE, None)
    assert null["r2_change"] == pytest.approx(0.0) and null["r2"] > 0.9  # seed spread flatters the raw R²


def test_class_metrics_compare_with_alpha_zero_and_with_the_true_class():
    predicted = np.array([[1, 1, 1, 2, 2], [0, 0, 3, 3, 3]])
    metrics = class_metrics(ALPHAS, predicted, np.array([1, 3]), (-0.25, 0.25))
    assert metrics["preserved"] == [0.5, 0.5, 1.0, 0.5, 0.5] and metrics["accuracy"] == [0.5, 0.5, 1.0, 0.5, 0.5]
    assert metrics["preserved_at_low"] == 0.5 and metrics["preserved_at_high"] == 0.5


def test_bad_eval_settings_fail_clearly():
    with pytest.raises(ConfigError, match="eval.alpha_scale=0.5 must be >= 1"):
        EvalSettings(alpha_scale=0.5)
    with pytest.raises(ConfigError, match="eval.num_seeds=0"):
        EvalSettings(num_seeds=0)


@pytest.fixture(scope="module")
def tiny():
    return build_generator(OmegaConf.load(files("ganalyze.conf").joinpath("generator/tiny_biggan.yaml")))


def test_short_evaluation_writes_metrics_rows_and_pictures(tiny, tmp_path):
    torch.manual_seed(0)
    transformer = LinearTransformer(tiny.dim_z, init_std=1.0).requires_grad_(False)
    assessor = create_assessor("brightness")
    settings = EvalSettings(num_seeds=6, num_alphas=5, batch_size=4, random_directions=3)
    evaluation = evaluate(tiny, transformer, assessor, (-0.5, 0.5), settings)
    paths = save_evaluation(evaluation, tmp_path)
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["alphas"] == [-1.0, -0.5, 0.0, 0.5, 1.0] and metrics["num_seeds"] == 6
    assert {"trained/score_spearman", "random/score_r2_change", "random/score_abs_spearman_mean"} <= set(metrics["summary"])
    draws = metrics["metrics"]["random"]["score"]["spearman_draws"]
    assert len(draws) == 3 and draws[0] == metrics["metrics"]["random"]["score"]["spearman"]
    assert metrics["summary"]["random/score_abs_spearman_mean"] == pytest.approx(np.mean(np.abs(draws)))
    rows = list(csv.DictReader(paths["rows"].open()))
    assert len(rows) == 2 * 6 * 5 and {r["direction"] for r in rows} == {"trained", "random"}
    zero = [r for r in rows if float(r["alpha"]) == 0.0]
    assert all(float(r["score_change"]) == 0.0 for r in zero)
    trained = evaluation.sweeps["trained"].scores
    assert trained.std(axis=1).max() > 0  # the direction changes the images
    z, y = latents_for_seeds(tiny, evaluation.seeds[:2])
    result = walk(tiny, transformer, assessor, z, y, evaluation.alphas, ["#0", "#1"], "title")
    images, scores = result.images, result.scores
    assert images.shape == (2, 5, 3, 32, 32) and np.allclose(scores, trained[:2], atol=1e-5)
    grid = image_grid(images, scores, evaluation.alphas, ["#0", "#1"], "title")
    assert grid.width >= 5 * 96 and grid.height >= 2 * 96
    assert plot_changes(evaluation, tmp_path / "c.png").stat().st_size > 1000


def test_the_shapes_world_adds_true_factors_vs_alpha(tmp_path):
    torch.manual_seed(0)
    generator = ShapesGenerator().eval().requires_grad_(False)  # random weights: plumbing only
    transformer = LinearTransformer(generator.dim_z, init_std=1.0).requires_grad_(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the shape classifier may not be shipped yet
        evaluation = evaluate(generator, transformer, create_assessor("brightness"), (-1.0, 1.0),
                              EvalSettings(num_seeds=4, num_alphas=3, alpha_scale=1.0))
    assert {"score", "size", "x", "y", "hue", "obj_brightness", "bg_brightness"} <= set(evaluation.metrics["trained"])
    assert evaluation.sweeps["trained"].factors["size"].shape == (4, 3)
    header = save_evaluation(evaluation, tmp_path)["rows"].read_text().splitlines()[0]
    assert "size_change" in header and "hue_change" in header


def test_generating_each_image_once_keeps_the_metrics_of_the_straightforward_evaluation():
    """α = 0 images are shared across directions, the extra random draws skip the α and the classifier their ρ does
    not read: fewer images and classifier passes, the very same numbers (fp32 and the usual layout pinned: rank
    metrics of this random generator's near-flat images move with channels_last's rounding)."""
    results, calls = {}, {}
    for way, fast in (("today", None), ("once", FastPath(precision="fp32", channels_last=False))):
        torch.manual_seed(0)
        generator = ShapesGenerator().eval().requires_grad_(False)  # random weights: plumbing only
        transformer = LinearTransformer(generator.dim_z, init_std=1.0).requires_grad_(False)
        tools = world_tools(generator, True)
        assert tools.classifier is not None  # shipped with the package
        counts = calls[way] = {"generator": 0, "classifier": 0}
        generator.register_forward_hook(lambda *_, c=counts: c.update(generator=c["generator"] + 1))
        tools.classifier.register_forward_hook(lambda *_, c=counts: c.update(classifier=c["classifier"] + 1))
        results[way] = evaluate(generator, transformer, create_assessor("brightness"), (-1.0, 1.0),
                                EvalSettings(num_seeds=5, num_alphas=3, alpha_scale=2.0, random_directions=3),
                                tools=tools, fast=fast)
    # α -2, -1, 0, 1, 2 (trained range ±1), one batch each. today: 4 directions x 5 α. once: α = 0 generated once;
    # the 2 extra draws only at ±1 (their ρ reads the trained range), unclassified: 5 + 4 + 2 x 2 images
    assert calls == {"today": {"generator": 20, "classifier": 20}, "once": {"generator": 13, "classifier": 9}}
    today, once = results["today"], results["once"]
    assert once.metrics == today.metrics and len(once.metrics["random"]["size"]["spearman_draws"]) == 3
    for direction in DIRECTIONS:
        np.testing.assert_array_equal(once.sweeps[direction].predicted, today.sweeps[direction].predicted)
        np.testing.assert_array_equal(once.sweeps[direction].scores, today.sweeps[direction].scores)
