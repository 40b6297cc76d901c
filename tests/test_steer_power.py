"""The steerability-power analysis: generated data sets with the spreads they claim, the statistics on constructed
numbers, a circular walk that turns hue, and the quick preset end to end (cached on rerun)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from ganalyze.circular_init import calibrate_gains, fit_hue_plane
from ganalyze.errors import ConfigError
from ganalyze.steer_power import bootstrap_r, outside_range, pearson, run_power_analysis, table_markdown
from ganalyze.transformers import ClassRotationTransformer, RotationTransformer, load_transformer
from ganalyze.world import Factors, load_variant, measure, render
from ganalyze.world.families import design_correlation, family_name, latin_family, parse_name, spread_levels


def test_generated_names_round_trip_and_narrow_each_range_about_broads_centre() -> None:
    spreads = {"size": 0.5, "position": 0.25, "hue": 1.0, "obj_brightness": 0.1}
    name = family_name(spreads)
    assert parse_name(name) == spreads and parse_name("broad") is None
    variant, broad = load_variant(name), load_variant("broad")
    stats, broad_stats = variant.factor_stats(), broad.factor_stats()
    for factor, fraction in (("size", 0.5), ("hue", 1.0), ("obj_brightness", 0.1)):
        assert stats[factor][0] == pytest.approx(broad_stats[factor][0])
        assert stats[factor][1] == pytest.approx(fraction * broad_stats[factor][1])
    assert variant.position.high - variant.position.low == pytest.approx(0.25)
    with pytest.raises(ConfigError, match="fractions in"):
        family_name({"size": 1.5})


def test_a_generated_data_sets_measured_spread_matches_its_exact_sigma() -> None:
    # The data sets are real: images drawn from a narrow-size variant have the σ of size its name promises.
    narrow, wide = (load_variant(family_name({"size": f})) for f in (0.2, 1.0))
    for variant in (narrow, wide):
        images, _ = variant.sample(400, seed=3, resolution=32)
        measured = measure(images)["size"].numpy()
        assert measured.std() == pytest.approx(variant.factor_stats()["size"][1], rel=0.25)
    assert narrow.factor_stats()["size"][1] == pytest.approx(0.2 * wide.factor_stats()["size"][1])


def test_latin_family_gives_every_factor_n_distinct_spreads_nearly_uncorrelated() -> None:
    names = latin_family(24, 0.1, 1.0, seed=0)
    assert len(set(names)) == 24
    levels = sorted(spread_levels(24, 0.1, 1.0).tolist())
    for key in ("size", "position", "hue", "obj_brightness"):
        assert sorted(parse_name(n)[key] for n in names) == levels
    assert design_correlation(names) < 0.2
    with pytest.raises(ConfigError, match="count >= 3"):
        latin_family(2, 0.1, 1.0, seed=0)


def test_outside_range_counts_values_beyond_mu_plus_minus_root3_sigma_with_hue_wrapping() -> None:
    sigma = 20.0 / math.sqrt(3.0)  # range 350 ± 20 degrees: 330..10, across 0
    assert outside_range(np.array([341.0, 355.0, 359.0, 8.0]), 350.0, sigma, 360.0) == pytest.approx(0.0)
    assert outside_range(np.array([345.0, 5.0, 15.0, 320.0]), 350.0, sigma, 360.0) == pytest.approx(0.5)
    assert outside_range(np.array([0.1, 0.3]), 0.2, 0.05 / math.sqrt(3.0), None) == pytest.approx(1.0)


def test_pearson_and_bootstrap_on_constructed_numbers() -> None:
    rng = np.random.default_rng(0)
    sigma = np.linspace(0.01, 0.1, 24)
    seeds = [2.0 * s + rng.normal(0, 0.01, 200) for s in sigma]  # Δμ = 2σ plus seed noise
    fit = pearson(sigma, np.array([d.mean() for d in seeds]))
    assert fit["r"] > 0.99 and fit["p"] < 1e-10 and fit["slope"] == pytest.approx(2.0, rel=0.05)
    low, high = bootstrap_r(sigma, seeds, 300, seed=1)
    assert 0.95 < low <= fit["r"] <= high <= 1.0
    null = [rng.normal(0, 0.01, 200) for _ in sigma]  # Δμ independent of σ: the interval straddles 0
    low, high = bootstrap_r(sigma, null, 300, seed=1)
    assert low < 0 < high


class HueCircleGenerator(torch.nn.Module):
    """A fake generator whose object hue is the angle of (z0, z1) in degrees: a circular code of a circular factor."""

    dim_z, num_classes, resolution = 4, 6, 32

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        full = torch.ones(len(z))
        hue = torch.remainder(torch.rad2deg(torch.atan2(z[:, 1], z[:, 0])), 360.0)
        return render(Factors(class_id=y, size=0.12 * full, x=0.5 * full, y=0.5 * full, hue=hue,
                              obj_brightness=0.95 * full, bg_brightness=0.4 * full, texture=0 * full), 32)


def test_rotation_walk_in_the_hue_plane_turns_the_measured_hue_by_alpha(tmp_path) -> None:
    walk = RotationTransformer(dim_z=4)
    with torch.no_grad():
        walk.plane.copy_(torch.eye(4)[:2])
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(64, dtype=torch.long)
    generator = HueCircleGenerator()
    before = measure(generator(z, y))["hue"]
    for alpha in (-90.0, 45.0, 170.0):
        after = measure(generator(walk(z, torch.full((64,), alpha), y), y))["hue"]
        turned = torch.remainder(after - before + 180.0, 360.0) - 180.0
        assert turned.median().item() == pytest.approx(alpha, abs=4.0)
    # A full turn is the identity, and the part of z outside the plane never moves.
    assert torch.allclose(walk(z, torch.full((64,), 360.0), y), z, atol=1e-4)
    assert torch.equal(walk(z, torch.full((64,), 30.0), y)[:, 2:], z[:, 2:])
    walk.save_pretrained(tmp_path / "walk")
    again = load_transformer(tmp_path / "walk")
    assert torch.allclose(again(z, torch.full((64,), 30.0), y), walk(z, torch.full((64,), 30.0), y))


def test_hue_plane_fit_finds_the_latent_circle_of_hue() -> None:
    # The fit sees only G(z) and the hue measured from pixels, yet recovers the plane of (z0, z1) and its centre.
    generator = HueCircleGenerator()
    generator.sample_latents = lambda n, seed, truncation, classes: (
        torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)), torch.zeros(n, dtype=torch.long))
    walk = RotationTransformer(dim_z=4)
    r2 = fit_hue_plane(walk, generator, None, num=300)
    basis = walk.basis()
    assert r2 > 0.3 and torch.linalg.matrix_norm(basis[:, 2:]) < 0.1 and walk.centre.abs().max() < 0.2
    z, y = torch.randn(64, 4, generator=torch.Generator().manual_seed(5)), torch.zeros(64, dtype=torch.long)
    before = measure(generator(z, y))["hue"]
    after = measure(generator(walk(z, torch.full((64,), 60.0), y), y))["hue"]
    assert (torch.remainder(after - before + 180.0, 360.0) - 180.0).median().item() == pytest.approx(60.0, abs=6.0)


class ShiftedCircleGenerator(HueCircleGenerator):
    """Hue = angle of (z0, z1 - y): each class's hue circle has its own centre."""

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.stack([z[:, 0], z[:, 1] - y.float(), z[:, 2], z[:, 3]], 1), y)


def test_class_rotation_fit_finds_each_classs_centre_and_turns_hue_about_it() -> None:
    generator = ShiftedCircleGenerator()
    generator.sample_latents = lambda n, seed, truncation, classes: (
        torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)) * 1.5,
        torch.randint(2, (n,), generator=torch.Generator().manual_seed(seed + 1)))
    walk = ClassRotationTransformer(dim_z=4, num_classes=2, rate=math.pi / 360.0)  # half the right rate...
    fit_hue_plane(walk, generator, None, num=600)
    gains = calibrate_gains(walk, generator, None, num=600)  # ...which the per-class gains make up for
    assert gains.tolist() == pytest.approx([2.0, 2.0], abs=0.3)
    z, y = torch.randn(64, 4, generator=torch.Generator().manual_seed(5)), torch.arange(64) % 2
    z[:, 1] += y.float()  # latents around their class's circle centre
    before = measure(generator(z, y))["hue"]
    after = measure(generator(walk(z, torch.full((64,), 60.0), y), y))["hue"]
    turned = torch.remainder(after - before + 180.0, 360.0) - 180.0
    assert turned.median().item() == pytest.approx(60.0, abs=8.0)
    # The two fitted centres differ by about the true offset between the classes' circles (1 along z1).
    assert (walk.centre[1] - walk.centre[0]).norm().item() == pytest.approx(1.0, abs=0.35)


def quick_config(out_dir) -> dict:
    """conf/steer_power.yaml with preset=quick, as the CLI composes it."""
    with initialize_config_module(config_module="ganalyze.conf", version_base="1.3"):
        cfg = compose("steer_power", overrides=["preset=quick", f"out_dir={out_dir}"])
    return OmegaConf.to_container(cfg, resolve=True)


def test_quick_preset_runs_end_to_end_and_resumes_from_its_cache(tmp_path) -> None:
    cfg = quick_config(tmp_path / "power")
    first = run_power_analysis(cfg)
    results = tmp_path / "power" / "results"
    summary = json.loads((results / "power_results.json").read_text())["summary"]
    assert {(s["walk"], s["factor"]) for s in summary} == {
        (w, f) for w in ("shared", "per_dataset") for f in ("size", "x", "y", "obj_brightness", "hue")}
    # r is null (undefined) where a 30-step generator draws one hue for every seed: Δμ is then constant.
    assert all(s["n"] == 4 and -1 <= s["r"] <= 1 and s["r_low"] <= s["r_high"] for s in summary if s["r"] is not None)
    assert sum(s["r"] is not None for s in summary) >= 6
    rows = first["rows"]
    assert all(0 <= r[k] <= 1 for r in rows for k in ("outside_real", "outside_at_zero", "outside_walked"))
    for name in ("power_table.md", "power_table.csv", "power_rows.csv", "steer_power_size.png", "steer_power_hue.png",
                 "steer_power_limits.png", "steer_power_hue_extremes.png"):
        assert (results / name).stat().st_size > 0
    assert "| shared |" in (results / "power_table.md").read_text()
    # Rerun: every walk and measurement comes from the cache, so the same numbers come back.
    walks = sorted((tmp_path / "power" / "walks").glob("*/transformer/*"))
    stamps = [p.stat().st_mtime_ns for p in walks]
    second = run_power_analysis(cfg)
    assert [p.stat().st_mtime_ns for p in walks] == stamps
    assert [r["delta_mu"] for r in second["rows"]] == [r["delta_mu"] for r in first["rows"]]
    assert table_markdown(second["summary"]) == table_markdown(first["summary"])


def test_cli_names_an_unknown_factor_and_exits_2(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "ganalyze.cli.steer_power", "preset=quick", f"out_dir={tmp_path}",
                           "+factors.colour={edit: color, alpha_star: 0.1, datasets: family}"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "factors.colour" in done.stderr and "studied factors" in done.stderr
