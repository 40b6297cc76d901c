"""The data-bias analysis: Δμ measured right (wrapping hue), Pearson r/p on constructed numbers, plumbing end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganalyze.data_bias import (
    FactorSpec, claim_folder, correlate, factor_specs, measure_shift, run_bias_analysis, spread,
)
from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.generators.base import Generator
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.world import Factors, render


class FactorGenerator(Generator):
    """A fake generator drawing world images whose centroid x and hue are read off z: x = 0.5 + 0.01 z0, hue = 350 + z1."""

    def __init__(self) -> None:
        super().__init__()
        self.dim_z, self.num_classes, self.resolution = 4, 6, 32

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        n = len(z)
        full = torch.full((n,), 1.0)
        factors = Factors(class_id=y, size=0.1 * full, x=0.5 + 0.01 * z[:, 0], y=0.5 * full,
                          hue=torch.remainder(350.0 + z[:, 1], 360.0), obj_brightness=0.9 * full,
                          bg_brightness=0.5 * full, texture=0.0 * full)
        return render(factors, self.resolution)


class AxisWalk(torch.nn.Module):
    """z + α e_k: moves one latent coordinate by α."""

    alpha_dim = 1

    def __init__(self, axis: int):
        super().__init__()
        self.axis = axis

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = z.clone()
        out[:, self.axis] += alpha
        return out


def test_measure_shift_reads_the_centroid_change() -> None:
    spec = FactorSpec("x", "shift_x", 5.0, ("a", "b", "c"), 0.01)
    shift = measure_shift(FactorGenerator(), AxisWalk(0), spec, num_seeds=12, batch_size=5)
    assert shift["delta_plus"] == pytest.approx(0.05, abs=2e-3)
    assert shift["delta_minus"] == pytest.approx(-0.05, abs=2e-3)
    assert shift["delta_mu"] == pytest.approx(0.10, abs=4e-3)
    assert shift["model_mu"] == pytest.approx(0.5, abs=0.01)


def test_measure_shift_wraps_hue_across_zero() -> None:
    # Hues near 350 pushed by +20 land near 10: a change of +20 degrees, not -340.
    spec = FactorSpec("hue", "hue", 20.0, ("a", "b", "c"), 0.01)
    shift = measure_shift(FactorGenerator(), AxisWalk(1), spec, num_seeds=12, batch_size=12)
    assert shift["delta_plus"] == pytest.approx(20.0, abs=1.0)
    assert shift["delta_mu"] == pytest.approx(40.0, abs=2.0)
    assert abs(shift["model_mu"] - 350.0) < 2.0 and shift["model_sigma"] < 3.0


def test_spread_of_hues_is_taken_around_the_circle() -> None:
    mean, sigma = spread(np.array([350.0, 10.0, 350.0, 10.0]), 360.0)
    assert min(mean, 360.0 - mean) == pytest.approx(0.0, abs=1e-9) and sigma == pytest.approx(10.0)
    assert spread(np.array([1.0, 3.0]), None) == (2.0, 1.0)


def test_pearson_on_constructed_numbers_matches_the_t_test() -> None:
    sigma = [0.01, 0.02, 0.03, 0.04, 0.05]
    delta = [0.10, 0.25, 0.22, 0.41, 0.52]
    rows = [{"factor": "size", "data_sigma": s, "delta_mu": d} for s, d in zip(sigma, delta)]
    result = correlate(rows, ["size"])["size"]
    r = np.corrcoef(sigma, delta)[0, 1]
    t = r * math.sqrt(3) / math.sqrt(1 - r * r)
    assert result["r"] == pytest.approx(r)
    assert result["p"] == pytest.approx(2 * stats.t.sf(abs(t), df=3))
    assert result["n"] == 5


def test_pooled_position_and_undefined_correlations() -> None:
    rows = [{"factor": f, "data_sigma": s, "delta_mu": 2 * s + (0.1 if f == "y" else 0.0)}
            for f in ("x", "y") for s in (0.1, 0.2, 0.3)]
    rows += [{"factor": "hue", "data_sigma": 5.0, "delta_mu": d} for d in (1.0, 2.0, 3.0)]
    result = correlate(rows, ["x", "y", "hue"])
    assert result["x"]["r"] == pytest.approx(1.0) and result["y"]["r"] == pytest.approx(1.0)
    assert result["position"]["n"] == 6 and 0.8 < result["position"]["r"] < 1.0
    assert math.isnan(result["hue"]["r"]) and "constant" in result["hue"]["note"]


def test_factor_specs_refuse_bad_settings() -> None:
    good = {"edit": "zoom", "alpha_star": 0.5, "datasets": ["broad", "size_mid", "size_fixed"]}
    assert factor_specs({"size": good}, 0.01)[0].lr == 0.01
    with pytest.raises(ConfigError, match="at least 3"):
        factor_specs({"size": {**good, "datasets": ["broad", "size_mid"]}}, 0.01)
    with pytest.raises(ConfigError, match="positive"):
        factor_specs({"size": {**good, "alpha_star": 0}}, 0.01)
    with pytest.raises(UnknownNameError):
        factor_specs({"size": {**good, "edit": "shear"}}, 0.01)
    with pytest.raises(UnknownNameError):
        factor_specs({"size": {**good, "datasets": ["broad", "size_mid", "nowhere"]}}, 0.01)


def test_a_folder_made_with_other_settings_is_refused(tmp_path) -> None:
    claim_folder(tmp_path / "walk", {"steps": 3})
    claim_folder(tmp_path / "walk", {"steps": 3})  # same settings: reused
    with pytest.raises(ConfigError, match="steps: 3 -> 4"):
        claim_folder(tmp_path / "walk", {"steps": 4})


def tiny_generator(datasets: list[str], folder, node, seed: int) -> Generator:
    """Stands in for generator training: a small random shapes generator with 6 classes per data set."""
    torch.manual_seed(seed)
    return ShapesGenerator(dim_z=8, num_classes=6 * len(datasets), resolution=16, width=4).eval()


def test_the_analysis_runs_end_to_end_and_resumes_from_its_cache(tmp_path) -> None:
    cfg = {
        "seed": 0, "out_dir": str(tmp_path),
        "generator": {"steps": 1, "batch_size": 2, "width": 4, "resolution": 16, "flow_layers": 0, "fit_samples": 10},
        "walk": {"transformer": "linear", "steps": 2, "batch_size": 4, "lr": 0.01},
        "eval": {"num_seeds": 6, "batch_size": 6},
        "factors": {"size": {"edit": "zoom", "alpha_star": 0.5, "datasets": ["broad", "size_mid", "size_fixed"]}},
    }
    first = run_bias_analysis(cfg, train_generator=tiny_generator)
    assert [r["dataset"] for r in first["rows"]] == ["broad", "size_mid", "size_fixed"]
    assert [r["data_sigma"] for r in first["rows"]] == pytest.approx([0.15 / math.sqrt(12), 0.08 / math.sqrt(12),
                                                                      0.01 / math.sqrt(12)])
    results = tmp_path / "walk_linear"
    saved = json.loads((results / "bias_results.json").read_text())
    assert set(saved["correlations"]) == {"size"}
    assert (results / "bias_table.csv").read_text().count("\n") == 4
    assert (results / "bias_scatter.png").stat().st_size > 0
    assert (results / "walks" / "size_broad" / "transformer" / "model.pt").is_file()
    made_with = json.loads((results / "walks" / "size_size_mid" / "made_with.json").read_text())
    assert made_with["classes"] == [6, 7, 8, 9, 10, 11]  # the second data set's shapes in the conditioned generator
    second = run_bias_analysis(cfg, train_generator=tiny_generator)  # walks come from the cache now
    assert [r["delta_mu"] for r in second["rows"]] == [r["delta_mu"] for r in first["rows"]]


def test_the_generator_script_trains_one_generator_conditioned_on_several_variants(tmp_path, monkeypatch) -> None:
    from importlib.resources import files

    from omegaconf import OmegaConf

    from ganalyze.data_bias import GENERATOR_SCRIPT
    from ganalyze.world import measure

    monkeypatch.syspath_prepend(str(GENERATOR_SCRIPT.parent))
    import train_shapes_generator as script

    images, classes = script.sample_real(["broad", "warm"], 9, seed=3, resolution=16)
    assert images.shape == (9, 3, 16, 16)
    assert classes[:5].max() < 6 and classes[5:].min() >= 6  # warm's shapes come second: ids 6..11
    warm_hue = measure(images[5:])["hue"]
    assert bool(((warm_hue < 75) | (warm_hue > 345)).all())  # warm hues lie in 0..60 degrees
    cfg = OmegaConf.load(str(files("ganalyze.conf").joinpath("train_shapes_generator.yaml")))
    cfg.merge_with_dotlist(["variant=[broad,warm]", "steps=2", "batch_size=4", "fit_samples=120", "model.dim_z=4",
                            "model.resolution=16", "model.width=4", "model.embed_dim=2", "model.flow_layers=0",
                            "progress_interval=100", f"checkpoint={tmp_path / 'c.pt'}", f"out_dir={tmp_path / 'g'}"])
    generator = ShapesGenerator.from_pretrained(script.train(cfg))
    assert generator.num_classes == 12 and generator.resolution == 16
