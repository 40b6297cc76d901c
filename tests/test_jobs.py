"""The evaluation job: its visual definition is drawn from the trained sweep's own images (nothing generated twice),
the same picture and numbers as walking the seeds again; the shape classifier is loaded once per evaluation."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from assessors import create_assessor
from ganalyze.evaluation import EvalSettings, evaluate, world_tools
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.jobs import build_roles, evaluation_job, grid_walk
from ganalyze.logger import NullLogger
from ganalyze.sampling import latents_for_seeds
from ganalyze.settings import compose_config, to_settings
from ganalyze.transformers import LinearTransformer
from ganalyze.walk import walk, walk_of_sweep

TINY_JOB = ["generator=tiny_biggan", "assessor=brightness", "logger=none", "eval.num_seeds=5", "eval.num_alphas=3",
            "eval.batch_size=3", "eval.random_directions=2", "eval.grid_seeds=4", "train.fast.precision=fp32"]


def test_a_walk_of_the_sweep_equals_walking_its_seeds_again():
    """On the shapes world (random weights: plumbing), the kept images, scores, true factors and class kept equal
    a fresh walk of the same seeds; seeds split over two batches (batch_size 3, 4 kept)."""
    torch.manual_seed(0)
    generator = ShapesGenerator().eval().requires_grad_(False)
    transformer = LinearTransformer(generator.dim_z, init_std=1.0).requires_grad_(False)
    assessor, tools = create_assessor("brightness"), world_tools(generator, True)
    settings = EvalSettings(num_seeds=5, num_alphas=3, batch_size=3, random_directions=1, grid_seeds=4)
    result = evaluate(generator, transformer, assessor, (-1.0, 1.0), settings, tools=tools)
    swept = result.sweeps["trained"]
    assert swept.images.shape == (4, len(result.alphas), 3, 32, 32) and result.sweeps["random"].images is None
    z, y = latents_for_seeds(generator, result.seeds[:4])
    names = [f"#{i}" for i in range(4)]
    fresh = walk(generator, transformer, assessor, z, y, result.alphas, names, "t", tools=tools)
    reused = walk_of_sweep(swept, generator, y, result.alphas, names, "t")
    torch.testing.assert_close(reused.images, fresh.images, rtol=0, atol=1e-6)
    np.testing.assert_allclose(reused.scores, fresh.scores, rtol=0, atol=1e-6)
    assert reused.factors.keys() == fresh.factors.keys() and reused.row_labels == fresh.row_labels
    for name in fresh.factors:
        np.testing.assert_allclose(reused.factors[name], fresh.factors[name], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(reused.class_kept, fresh.class_kept)
    picture = lambda w: np.asarray(w.grid(), dtype=int)  # noqa: E731
    assert np.abs(picture(reused) - picture(fresh)).max() <= 1  # the same picture (pixels at most 1/255 apart)
    with pytest.raises(ValueError, match="not the 5 seeds"):
        walk_of_sweep(swept, generator, y, result.alphas, names + ["#4"], "t")


def test_the_evaluation_job_draws_its_visual_definition_without_generating_again(tmp_path, monkeypatch):
    """Today's job walked the 4 grid seeds x 5 α (±1, ±0.5, 0) again after the sweeps; now only the sweeps generate:
    trained 2 batches x 5 α, random 2 x 4 (α = 0 shared), the extra draw 2 x 2 (its ρ reads ±0.5 only)."""
    settings = to_settings(compose_config([*TINY_JOB, f"run_dir={tmp_path}"]))
    roles = build_roles(settings, torch.device("cpu"))
    roles.generator.eval().requires_grad_(False)
    roles.assessor.eval().requires_grad_(False)
    roles.transformer.eval().requires_grad_(False)
    batches = []
    roles.generator.register_forward_hook(lambda module, args, out: batches.append(len(out)))
    result = evaluation_job(settings, roles, tmp_path, tmp_path / "eval", NullLogger())
    assert len(result.alphas) == 5 and len(batches) == 10 + 8 + 4 and sum(batches) == 5 * (5 + 4 + 2)
    picture = Image.open(tmp_path / "eval" / "visual_definition.png")
    again = grid_walk(settings, roles, result.seeds[:4], result.alphas, None)  # walks the seeds again
    assert len(batches) == 10 + 8 + 4 + 5
    drawn = np.asarray(again.grid().convert(picture.mode), dtype=int)
    assert drawn.shape == np.asarray(picture).shape and np.abs(drawn - np.asarray(picture, dtype=int)).max() <= 1


def test_the_shape_classifier_loads_once_per_evaluation_job(tmp_path, monkeypatch):
    """The sweeps and every grid (the seeds' own classes and one more per grid class) share one classifier."""
    from ganalyze.world.classifier import ShapeClassifier

    loads = []
    load = ShapeClassifier.from_pretrained.__func__
    monkeypatch.setattr(ShapeClassifier, "from_pretrained",
                        classmethod(lambda cls, *a, **k: loads.append(1) or load(cls, *a, **k)))
    settings = to_settings(compose_config(["generator=shapes", "assessor=shapes_size", "logger=none",
                                           "eval.num_seeds=3", "eval.num_alphas=3", "eval.random_directions=1",
                                           "eval.grid_seeds=2", "eval.grid_classes=[0,1]", f"run_dir={tmp_path}"]))
    roles = build_roles(settings, torch.device("cpu"))
    for network in (roles.generator, roles.assessor, roles.transformer):
        network.eval().requires_grad_(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluation_job(settings, roles, tmp_path, tmp_path / "eval", NullLogger())
    assert len(loads) == 1
    assert all(Path(tmp_path / "eval" / f"visual_definition{s}.png").is_file() for s in ("", "_class0", "_class1"))


def test_a_title_names_the_assessors_target(tmp_path):
    """A direction toward one of an assessor's targets is titled with it; an assessor without one by its name."""
    from ganalyze.jobs import assessor_name

    toward = to_settings(compose_config(["assessor=dataset_likeness", "assessor.target=centered", f"run_dir={tmp_path}"]))
    assert assessor_name(toward) == "dataset_likeness[centered]"
    assert assessor_name(to_settings(compose_config([*TINY_JOB, f"run_dir={tmp_path}"]))) == "brightness"
