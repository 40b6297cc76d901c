"""Projection of every kind of bias (issue 24): the map-free broadcast code, per-data-set pixel noise, and the
per-pair projection report measured from pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from ganalyze.errors import ConfigError, WeightsError
from ganalyze.projection import ConditionalFlow, ProjectionModel
from ganalyze.projection.broadcast import BroadcastAutoEncoder, build_autoencoder, load_autoencoder
from ganalyze.projection.datasets import LabelledImages, split_held_out, to_uint8
from ganalyze.projection.report import (constrained_factors, projection_report, rank_correlation, report_table,
                                        varied_factors)
from ganalyze.projection.train import pixel_noise, train_projection
from ganalyze.world.classifier import ShapeClassifier
from test_projection import LABELS, compose_config, tiny_data, tiny_model


def broadcast_model(labels: list[str] = LABELS, noise: list[float] | None = None, seed: int = 0) -> ProjectionModel:
    """A small random broadcast autoencoder with a dense conditional flow moved off the identity."""
    torch.manual_seed(seed)
    ae = BroadcastAutoEncoder(resolution=16, stages=2, width=4, global_dim=5, decoder_depth=2).eval()
    flow = ConditionalFlow(ae.latent_shape, labels, global_dim=ae.global_dim, global_blocks=3, global_hidden=16,
                           embed_dim=4, seed=seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return ProjectionModel(ae, flow.eval(), noise).eval()


def test_broadcast_code_has_no_map_and_round_trips(tmp_path) -> None:
    model = broadcast_model()
    images = torch.rand(4, 3, 16, 16)
    codes = model.autoencoder.encode(images)
    assert codes.shape == (4, 5) and model.flow.map_flow is None and model.flow.dim == 5
    z = model.flow(codes, torch.tensor([0, 1, 2, 0]))[0]
    assert torch.allclose(model.flow.inverse(z, torch.tensor([0, 1, 2, 0])), codes, atol=1e-5)
    assert model.autoencoder.decode(codes).shape == (4, 3, 16, 16)
    model.save_pretrained(tmp_path / "p")
    assert isinstance(load_autoencoder(tmp_path / "p" / "autoencoder"), BroadcastAutoEncoder)
    loaded = ProjectionModel.from_pretrained(tmp_path / "p")
    assert torch.equal(loaded.log_posterior(images), model.log_posterior(images))
    assert not (tmp_path / "p" / "noise.json").exists()  # no data set with noise, no file
    assert type(build_autoencoder({"resolution": 16, "latent_channels": 1, "stages": 2, "width": 4})).__name__ == "AutoEncoder"


def test_the_broadcast_code_holds_where_the_object_is() -> None:
    """The encoder sees the pixel coordinates: the same square at two places gives two codes (a pooled code of
    translation-equivariant features could not tell them apart)."""
    torch.manual_seed(0)
    ae = BroadcastAutoEncoder(resolution=16, stages=2, width=4, global_dim=5).eval()
    left, right = torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16)
    left[..., 6:10, 1:5], right[..., 6:10, 11:15] = 1.0, 1.0
    assert not torch.allclose(ae.encode(left), ae.encode(right), atol=1e-4)


def test_bad_broadcast_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="global_dim"):
        BroadcastAutoEncoder(resolution=16, stages=2, global_dim=0)
    with pytest.raises(ValueError, match="needs global_dim"):
        ConditionalFlow((0, 1, 1), LABELS, global_dim=0)
    with pytest.raises(ConfigError, match="autoencoder.model.global_dim"):
        from ganalyze.projection.settings import ProjectTrainSettings
        from ganalyze.typed_settings import from_config

        from_config(ProjectTrainSettings, {"autoencoder": {"model": {"latent_channels": 0, "global_dim": 0}}})


def test_render_adds_each_data_sets_noise_seeded_and_saved(tmp_path) -> None:
    model = broadcast_model(noise=[0.0, 0.1, 0.0])
    z = torch.randn(6, model.flow.dim)
    clean, noisy = torch.zeros(6, dtype=torch.long), torch.ones(6, dtype=torch.long)
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    mean = model.autoencoder.decode(model.flow.inverse(z, noisy))
    assert torch.equal(model.render(z, clean, gen()), model.autoencoder.decode(model.flow.inverse(z, clean)))
    drawn = model.render(z, noisy, gen())
    assert torch.equal(drawn, model.render(z, noisy, gen()))  # the generator fixes the noise
    assert 0.08 < float((drawn - mean).detach().std()) < 0.12
    model.save_pretrained(tmp_path / "p")
    assert json.loads((tmp_path / "p" / "noise.json").read_text())["noise_std"] == pytest.approx([0.0, 0.1, 0.0])
    assert torch.equal(ProjectionModel.from_pretrained(tmp_path / "p").render(z, noisy, gen()), drawn)
    (tmp_path / "p" / "noise.json").write_text(json.dumps({"labels": ["x", "y", "z"], "noise_std": [0, 0, 0]}))
    with pytest.raises(WeightsError, match="noise.json"):
        ProjectionModel.from_pretrained(tmp_path / "p")
    with pytest.raises(WeightsError, match="noise_std"):
        broadcast_model(noise=[0.0, -1.0, 0.0])


def test_pixel_noise_finds_the_noise_a_data_set_adds() -> None:
    """Two flat grey sets, one with N(0, 0.05²) pixel noise; a decoder that draws the grey: σ ≈ 0.05 and 0."""

    class Grey(nn.Module):
        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return torch.full_like(images, 128 / 255)

    gen = torch.Generator().manual_seed(0)
    images = torch.full((400, 3, 8, 8), 128 / 255)
    images[200:] += 0.05 * torch.randn(200, 3, 8, 8, generator=gen)
    data = LabelledImages(to_uint8(images), torch.arange(2).repeat_interleave(200), ["clean", "noisy"])
    noise = pixel_noise(Grey(), data)
    assert noise[0] == 0.0 and noise[1] == pytest.approx(0.05, abs=0.004)


def test_train_projection_with_a_broadcast_code_and_noise(tmp_path) -> None:
    data = tiny_data(n_per_set=10)
    train, held_out = split_held_out(data, 2)
    stage = lambda model: {"model": model, "train": {"steps": 3, "lr": 1e-3, "seed": 0, "batch_size": 8, "kl_weight": 0.01}}  # noqa: E731
    cfg = {"data": {"sets": LABELS},
           "autoencoder": {**stage({"resolution": 16, "latent_channels": 0, "stages": 2, "width": 4, "global_dim": 4}),
                           "pixel_noise": True},
           "flow": stage({"global_blocks": 2, "global_hidden": 8, "embed_dim": 4})}
    model = train_projection(train, held_out, cfg, tmp_path)
    metrics = json.loads((tmp_path / "train_metrics.json").read_text())
    assert len(metrics["noise_std"]) == 3 and min(metrics["noise_std"]) == 0.0
    loaded = ProjectionModel.from_pretrained(tmp_path / "model")
    assert isinstance(loaded.autoencoder, BroadcastAutoEncoder)
    assert torch.equal(loaded.noise_std, model.noise_std)


def test_constrained_and_varied_factors_follow_the_world_configs() -> None:
    assert constrained_factors("warm") == ["hue"] and constrained_factors("cool") == ["hue"]
    assert constrained_factors("centered") == ["x", "y"]
    assert constrained_factors("size_narrow") == ["size"]
    assert constrained_factors("low_quality") == ["sharpness"]
    assert varied_factors("warm", "centered") == ["size", "x", "y", "hue", "obj_brightness", "bg_brightness"]


def test_rank_correlation_of_hue_ignores_the_wrap() -> None:
    source = np.array([340.0, 350.0, 355.0, 5.0, 15.0])
    assert rank_correlation("hue", source, (source + 200.0) % 360.0) == pytest.approx(1.0)  # a rotation keeps the order
    assert rank_correlation("hue", source, (6 * source) % 360.0) == pytest.approx(1.0)  # an arc stretched round the circle
    arc = np.linspace(330.0, 390.0, 50) % 360.0
    assert rank_correlation("hue", arc, (60.0 - arc) % 360.0) < 0.6  # a reflection reverses it (at best ρ = 0.5)
    scrambled = np.random.default_rng(0).uniform(0, 360, 500)
    assert abs(rank_correlation("hue", np.linspace(0, 60, 500), scrambled)) < 0.2
    assert rank_correlation("size", np.arange(5.0), -np.arange(5.0)) == pytest.approx(-1.0)
    assert np.isnan(rank_correlation("size", np.arange(5.0), np.ones(5)))


class Identity(nn.Module):
    """A stand-in projection model that renders every input unchanged, whatever the target."""

    def __init__(self, labels: list[str]):
        super().__init__()
        self.labels, self.autoencoder = labels, nn.Module()
        self.autoencoder.resolution = 32

    def resize(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def to_prior(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return images

    def render(self, z: torch.Tensor, labels: torch.Tensor, generator=None) -> torch.Tensor:
        return z

    def project(self, images, source, target, generator=None) -> torch.Tensor:
        return images


def test_the_report_fails_a_projection_that_changes_nothing(tmp_path) -> None:
    """Identity 'projections' keep content (rank ρ = 1, the shapes) but miss each target's bias, and the report says so."""
    report = projection_report(Identity(["warm", "centered"]), ShapeClassifier.from_pretrained(), 60, 5_000_000, tmp_path)
    by_pair = {(p["source"], p["target"]): p for p in report["pairs"]}
    to_centered, to_warm = by_pair[("warm", "centered")], by_pair[("centered", "warm")]
    assert to_centered["constrained_factors"] == ["x", "y"] and to_warm["constrained_factors"] == ["hue"]
    assert to_centered["factors"]["x"]["w1_sigma"] > 1.0 and to_warm["factors"]["hue"]["w1_sigma"] > 2.0
    assert to_centered["factors"]["size"]["rank_correlation"] == pytest.approx(1.0)
    assert to_centered["shape_class_kept"] >= 0.9
    assert not to_centered["bars"]["constrained_w1<=0.25sigma"] and to_centered["bars"]["rank_correlation>=0.8"]
    assert not report["all_bars_met"]
    assert {"report.json", "report.md", "strip_warm.png", "strip_centered.png"} <= {p.name for p in tmp_path.iterdir()}
    assert "| warm → centered | x " in report_table(report)


def test_the_report_option_refuses_a_model_of_other_data_sets(tmp_path) -> None:
    from ganalyze.cli.project import run_projection

    tiny_model().save_pretrained(tmp_path / "p")  # data sets a, b, c: not world variants
    with pytest.raises(ConfigError, match="not world variants"):
        run_projection(compose_config("projection/project", [f"weights={tmp_path / 'p'}", "source=a", "logger=none",
                                                             f"inputs={tmp_path}", "report=true"]))
    with pytest.raises(ConfigError, match="report_images"):
        run_projection(compose_config("projection/project", [f"weights={tmp_path / 'p'}", "logger=none",
                                                             "report=true", "report_images=1"]))


def test_transport_cost_is_how_far_projected_codes_move() -> None:
    """Zero for a fresh flow (every data set shares one map, so a projection returns the code), positive once the
    data sets' flows differ."""
    from ganalyze.projection.train import transport_cost

    codes, labels, gen = torch.randn(32, 5), torch.arange(3).repeat(11)[:32], torch.Generator().manual_seed(0)
    fresh = ConditionalFlow((0, 1, 1), LABELS, global_dim=5, global_blocks=2, global_hidden=8, embed_dim=4)
    assert float(transport_cost(fresh, codes, fresh(codes, labels)[0], labels, gen)) == pytest.approx(0.0, abs=1e-10)
    moved = broadcast_model().flow
    cost = transport_cost(moved, codes, moved(codes, labels)[0], labels, torch.Generator().manual_seed(0))
    assert float(cost) > 1e-5


def test_train_projection_with_the_transport_term(tmp_path) -> None:
    data = tiny_data(n_per_set=10)
    train, held_out = split_held_out(data, 2)
    stage = lambda model: {"model": model, "train": {"steps": 2, "lr": 1e-3, "seed": 0, "batch_size": 8, "kl_weight": 0.01}}  # noqa: E731
    cfg = {"data": {"sets": LABELS},
           "autoencoder": stage({"resolution": 16, "latent_channels": 0, "stages": 2, "width": 4, "global_dim": 4}),
           "flow": {**stage({"global_blocks": 2, "global_hidden": 8, "embed_dim": 4}), "transport": 1.0}}
    logged: dict[str, float] = {}
    train_projection(train, held_out, cfg, tmp_path, log=lambda step, values: logged.update(values))
    assert "flow/transport" in logged and logged["flow/transport"] >= 0.0
    assert ProjectionModel.from_pretrained(tmp_path / "model").labels == LABELS


def test_centering_counts_centroids_moving_to_the_middle(monkeypatch) -> None:
    """eval_projection's centering ρ: +1 when every seed's centroid nears the middle as α grows, −1 when it leaves."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "scripts"))
    from eval_projection import centering

    alphas, inside = np.linspace(-1, 1, 5), np.ones(5, bool)
    start = np.random.default_rng(0).uniform(0.05, 0.3, (20, 1))  # each seed's offset at α = −1
    toward = 0.5 + start * (1.2 - 0.5 * (alphas + 1))[None]  # offset shrinks with α
    result = centering(toward, np.full_like(toward, 0.5), alphas, inside)
    assert result["centering_spearman"] > 0.8 and result["mean_off_centre"][0] > result["mean_off_centre"][-1]
    assert centering(toward[:, ::-1], np.full_like(toward, 0.5), alphas, inside)["centering_spearman"] < -0.8
    assert result["share_moved_closer"] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert result["share_moved_farther"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    # a walk whose lower half of α leaves every seed where it was: nobody moves farther, and the pooled ρ falls
    still = np.where(alphas[None] < 0, toward[:, [2]], toward)
    half = centering(still, np.full_like(still, 0.5), alphas, inside)
    assert half["share_moved_farther"] == [0.0] * 5 and half["centering_spearman"] < result["centering_spearman"]
