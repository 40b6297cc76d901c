"""Steerability measurement: exact walks must read as exact, weak walks must hit their limit, stats on known numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ganalyze.edits import get_edit, rotate
from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator
from ganalyze.steerability import (
    best_rotation, evaluate_steerability, generic_meter, steerability_limit, summarise, world_meter,
)
from ganalyze.world import load_variant, render

CODE_SCALE = 0.05  # the fake generator's starting edit is CODE_SCALE * z: small, so objects stay in frame


class EditingGenerator(Generator):
    """A fake generator whose latent *is* an edit: G(z, y) = edit(world image y, CODE_SCALE * z[:, :k]).

    A linear walk along z's first k coordinates with step 1/CODE_SCALE then applies exactly the edit by α
    (edits compose additively in their α units), so a perfect steerability measure reads achieved = α.
    """

    def __init__(self, edit: str, dim_z: int = 4):
        super().__init__()
        self.edit = get_edit(edit)
        self.dim_z, self.resolution = dim_z, 32
        factors = load_variant("broad").sample_factors(6, seed=3)
        factors.class_id[:] = torch.arange(6)  # one of each shape,
        factors.size[:], factors.x[:], factors.y[:] = 0.08, 0.5, 0.5  # small and centred: edits keep it in frame
        self.register_buffer("base", render(factors, self.resolution))
        self.num_classes = 6

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        code = CODE_SCALE * z[:, : self.edit.alpha_dim]
        return self.edit.apply(self.base[y], code if self.edit.alpha_dim > 1 else code[:, 0])[0]


class AxisWalk(torch.nn.Module):
    """A linear walk z + α θ moving z[:, k] by gain * α / CODE_SCALE for slider k."""

    def __init__(self, dim_z: int, alpha_dim: int, gain: float):
        super().__init__()
        self.alpha_dim = alpha_dim
        self.register_buffer("theta", torch.eye(alpha_dim, dim_z) * gain / CODE_SCALE)

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return z + alpha.reshape(len(z), self.alpha_dim) @ self.theta


def _walk(dim_z: int, alpha_dim: int, gain: float) -> AxisWalk:
    """The walk that applies the edit by gain * α."""
    return AxisWalk(dim_z, alpha_dim, gain)


@pytest.mark.parametrize("edit,alphas,tol", [
    ("shift_x", [-4.0, -2.0, 0.0, 2.0, 4.0], 0.15),
    ("shift_y", [-4.0, 0.0, 4.0], 0.15),
    ("brightness", [-0.1, 0.0, 0.1], 1e-3),
    ("hue", [-30.0, 0.0, 30.0], 4.0),
])
def test_an_exact_walk_reads_as_exact(edit: str, alphas: list[float], tol: float) -> None:
    gen = EditingGenerator(edit)
    result = evaluate_steerability(gen, _walk(gen.dim_z, 1, 1.0), get_edit(edit), (min(alphas), max(alphas)),
                                   num_seeds=12, alphas=alphas)
    info = result.summary["sliders"]["all"]
    for point in info["per_alpha"]:
        assert point["median"] == pytest.approx(point["alpha"], abs=tol)
    assert info["spearman_rho"] > 0.95
    assert info["limit_low"] is None and info["limit_high"] is None


def test_zoom_reads_the_log2_scale_from_the_area_ratio() -> None:
    gen = EditingGenerator("zoom")
    result = evaluate_steerability(gen, _walk(gen.dim_z, 1, 1.0), get_edit("zoom"), (-0.5, 0.5), num_seeds=12,
                                   alphas=[-0.5, 0.0, 0.5])
    medians = [p["median"] for p in result.summary["sliders"]["all"]["per_alpha"]]
    assert medians == pytest.approx([-0.5, 0.0, 0.5], abs=0.05)


def test_color_has_one_curve_per_slider_and_each_slider_moves_only_its_channel() -> None:
    gen = EditingGenerator("color")
    result = evaluate_steerability(gen, _walk(gen.dim_z, 3, 1.0), get_edit("color"), (-0.1, 0.1), num_seeds=8,
                                   alphas=[-0.1, 0.0, 0.1])
    assert set(result.summary["sliders"]) == {"r", "g", "b"}
    for slider, info in result.summary["sliders"].items():
        assert [p["median"] for p in info["per_alpha"]] == pytest.approx([-0.1, 0.0, 0.1], abs=0.01)
        others = [r[f"d_mean_{c}"] for r in result.rows if r["slider"] == slider for c in "rgb" if c != slider]
        assert np.abs(others).max() < 0.01


def test_a_weak_walk_hits_its_limit_at_the_first_alpha() -> None:
    gen = EditingGenerator("shift_x")
    result = evaluate_steerability(gen, _walk(gen.dim_z, 1, 0.3), get_edit("shift_x"), (-4.0, 4.0), num_seeds=8,
                                   alphas=[-4.0, -2.0, 0.0, 2.0, 4.0])
    info = result.summary["sliders"]["all"]
    assert info["limit_low"] == -2.0 and info["limit_high"] == 2.0
    assert info["spearman_rho"] > 0.9  # it still moves the right way, only too little


def test_best_rotation_recovers_the_angle_and_its_sign() -> None:
    images, _ = load_variant("broad").sample(8, seed=5)
    fg = world_meter(images)["foreground"]
    turned, _ = rotate(fg[:, None], 20.0)
    found = best_rotation(fg, turned[:, 0], search=40.0)
    # circles (class 0) have no orientation; every other shape must come back at +20 degrees
    _, factors = load_variant("broad").sample(8, seed=5)
    assert found[factors.class_id != 0].tolist() == pytest.approx([20.0] * int((factors.class_id != 0).sum()), abs=1.0)


def test_generic_meter_agrees_with_the_world_measurement_on_world_images() -> None:
    images, _ = load_variant("broad").sample(16, seed=7)
    world, generic = world_meter(images), generic_meter(images)
    for key in ("x", "y"):
        assert (world[key] - generic[key]).abs().max() < 1.5 / 32  # within 1.5 pixels
    assert torch.corrcoef(torch.stack([world["size"], generic["size"]]))[0, 1] > 0.9
    hue_gap = torch.remainder(world["hue"] - generic["hue"] + 180, 360) - 180
    assert hue_gap.abs().max() < 10.0


def test_unknown_meter_is_a_clear_error() -> None:
    gen = EditingGenerator("zoom")
    with pytest.raises(ConfigError, match="generic"):
        evaluate_steerability(gen, _walk(gen.dim_z, 1, 1.0), get_edit("zoom"), (-0.5, 0.5), [0.0], 2, meter="lpips")


def test_limit_on_constructed_ratios() -> None:
    alphas = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    ratios = [0.9, 0.3, 0.8, math.nan, 0.9, 0.6, 0.49]
    assert steerability_limit(alphas, ratios, -1) == -2.0
    assert steerability_limit(alphas, ratios, +1) == 3.0
    assert steerability_limit(alphas, [1.0] * 7, +1) is None


def test_summary_statistics_on_constructed_rows() -> None:
    rows = []
    for seed in range(4):
        for a in (-2.0, -1.0, 0.0, 1.0, 2.0):
            got = 0.5 * a if seed < 3 else -a  # three seeds follow at half speed, one goes the wrong way
            rows.append({"seed_index": seed, "slider": "all", "alpha": a, "achieved": got, "d_size": 2 * got})
    info = summarise(rows, (-2.0, 2.0), get_edit("zoom"))["sliders"]["all"]
    assert info["monotonic_fraction"] == 0.75
    assert info["slope"] == pytest.approx((0.5 * 3 - 1) / 4)
    per = {p["alpha"]: p for p in info["per_alpha"]}
    assert per[2.0]["median"] == 1.0 and per[2.0]["median_ratio"] == 0.5
    assert info["limit_high"] is None  # exactly 0.5 is not below 0.5
    assert info["factor_spearman_rho"]["size"] == pytest.approx(info["spearman_rho"])


def test_ganalyze_train_with_an_edit_preset_writes_the_steerability_evaluation(tmp_path) -> None:
    from hydra import compose, initialize_config_module

    from ganalyze.cli.train import run_training

    overrides = ["objective=color", "transformer=linear", "generator=tiny_biggan", "logger=none", "train.steps=2",
                 "train.batch_size=2", "eval.num_seeds=3", "eval.num_alphas=3", "eval.grid_seeds=2",
                 f"run_dir={tmp_path / 'run'}"]
    with initialize_config_module(version_base="1.3", config_module="ganalyze.conf"):
        cfg = compose("config", overrides=overrides)
    assert list(cfg.train.alpha_range) == [-0.2, 0.2]  # the preset's range, in the edit's units
    run_dir = run_training(cfg)
    summary = json.loads((run_dir / "eval" / "steerability" / "steerability.json").read_text())
    assert summary["edit"] == "color" and summary["meter"] == "generic"  # not the shapes world: generic meter
    assert set(summary["sliders"]) == {"r", "g", "b"}  # the linear walk has k = 3 sliders
    assert summary["trained_range"] == [-0.2, 0.2] and 0.0 in summary["alphas"]
    out = run_dir / "eval" / "steerability"
    rows = (out / "steerability.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 3 * len(summary["alphas"])  # header + seeds x sliders x alphas
    assert all((out / name).stat().st_size > 0 for name in ("steerability_curves.png", "steerability_grid_b.png"))
