"""The object-centred projection code (issue 24): the spatial transformer places and reads objects where the pose
says (measured from pixels), the blur number blurs, the nuisance flows keep the shape numbers and (monotone) each
number's order, and the option trains, saves and loads, with bad settings refused in one paragraph."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import spearmanr, wasserstein_distance

from ganalyze.audit.name_that_dataset import sharpness
from ganalyze.errors import ConfigError, WeightsError
from ganalyze.projection import ProjectionModel
from ganalyze.projection.broadcast import build_autoencoder, load_autoencoder
from ganalyze.projection.datasets import split_held_out
from ganalyze.projection.nuisance_flow import NuisanceFlow, load_flow
from ganalyze.projection.object_centred import (NUISANCE_DIM, ObjectCentredAutoEncoder, frame_transform, pose_of,
                                                pose_from_objectness, warp)
from ganalyze.projection.settings import ProjectTrainSettings
from ganalyze.projection.train import train_projection
from ganalyze.typed_settings import from_config
from ganalyze.world import load_variant, measure
from test_projection import LABELS, tiny_data

SHAPE_DIM = 4


def object_autoencoder(resolution: int = 32) -> ObjectCentredAutoEncoder:
    """A small untrained object-centred autoencoder whose mask decoder draws a full frame (a square object)."""
    torch.manual_seed(0)
    ae = build_autoencoder({"resolution": resolution, "latent_channels": 0, "stages": 2, "width": 4,
                            "global_dim": SHAPE_DIM, "decoder_depth": 1, "object_centred": True, "glimpse": 8})
    with torch.no_grad():
        last = ae.mask_decoder[-1]
        last.weight.zero_()
        last.bias.fill_(20.0)  # sigmoid(20) = 1: the mask covers the whole frame
    return ae.eval()


def red_square_codes(x: float, y: float, log_scale: float, blur_number: float = -20.0) -> torch.Tensor:
    """A code: a red object with its frame centred at (x, y) in [-1, 1] coordinates, a grey background, sharp."""
    code = torch.zeros(1, NUISANCE_DIM + SHAPE_DIM)
    code[0, :3] = torch.tensor([math.atanh(x), math.atanh(y), log_scale])
    code[0, 3:6] = torch.tensor([3.0, -3.0, -3.0])  # red
    code[0, NUISANCE_DIM - 1] = blur_number
    return code


def fit(flow: NuisanceFlow, codes: torch.Tensor, labels: torch.Tensor, lr: float, steps: int = 250) -> None:
    """Train ``flow`` by maximum likelihood on (codes, labels), then leave it in eval mode."""
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    flow.train()
    for _ in range(steps):
        loss = -flow.log_prob(codes, labels).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    flow.eval()


@torch.no_grad()
def test_the_decoder_places_the_object_where_the_pose_says() -> None:
    """Changing the pose numbers moves the measured centroid to the pose (in image fractions, within 0.3 px) and
    the measured size to the frame's area, exp(2·log-scale); the shape numbers do not move it."""
    ae = object_autoencoder()
    for x, y, log_scale in [(-0.4, 0.3, math.log(0.35)), (0.5, -0.2, math.log(0.5)), (0.0, 0.6, math.log(0.3))]:
        code = red_square_codes(x, y, log_scale)
        for shape in (torch.zeros(SHAPE_DIM), torch.randn(SHAPE_DIM)):
            code[0, NUISANCE_DIM:] = shape
            found = measure(ae.decode(code))
            x_img, y_img, scale = ((pose_of(code[:, :3])[0] + torch.tensor([1.0, 1.0, 0.0])) / torch.tensor([2.0, 2.0, 1.0])).tolist()
            assert float(found["x"]) == pytest.approx(x_img, abs=0.3 / 32)
            assert float(found["y"]) == pytest.approx(y_img, abs=0.3 / 32)
            assert float(found["size"]) == pytest.approx(math.exp(2 * scale), rel=0.06)
            assert 340 < float(found["hue"]) or float(found["hue"]) < 20  # red


@torch.no_grad()
def test_the_glimpse_centres_a_world_object_and_the_objectness_pose_finds_it() -> None:
    """A spatial transformer at a world object's true centroid and size cuts a view with the object in its middle;
    the pose read off the object's own coverage is that centroid and frame."""
    images, factors = load_variant("broad").sample(6, seed=3)
    pose = torch.stack([2 * factors.x - 1, 2 * factors.y - 1, 0.5 * torch.log(4 * factors.size)], 1)
    view = warp(images, frame_transform(pose), 32)
    centred = measure(view)
    assert torch.allclose(centred["x"], torch.full((6,), 0.5), atol=1.0 / 32)
    assert torch.allclose(centred["y"], torch.full((6,), 0.5), atol=1.0 / 32)
    chroma = (images.amax(1) - images.amin(1))
    coverage = (chroma / chroma.amax((1, 2), keepdim=True)).unsqueeze(1)
    found = pose_from_objectness(coverage)
    assert torch.allclose(found[:, :2], pose[:, :2], atol=0.5 / 32)
    assert torch.allclose(found[:, 2], pose[:, 2], atol=0.08)  # 2·sqrt(area share), the frame that holds FRAME_AREA


@torch.no_grad()
def test_the_quality_number_blurs() -> None:
    """A larger blur number gives a lower measured sharpness (mean |Laplacian|), and leaves the centroid alone."""
    ae = object_autoencoder()
    images = torch.cat([ae.decode(red_square_codes(0.1, -0.1, math.log(0.4), b)) for b in (-20.0, -1.0, 0.0, 2.0)])
    measured = sharpness(images)
    assert bool((measured[1:] < measured[:-1]).all())
    assert torch.allclose(measure(images)["x"], measure(images[:1])["x"].expand(4), atol=0.1 / 32)


def test_monotone_flow_moves_numbers_onto_the_target_and_keeps_their_order() -> None:
    """Fit a monotone nuisance flow to two data sets whose numbers differ in place and spread; a projection a -> b
    then matches b's distribution (W1 small against the move) and keeps each number's order exactly; the shape
    numbers pass through unchanged."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(600, 3, generator=gen)
    b = 3.0 + 0.4 * torch.randn(600, 3, generator=gen) ** 3 / 3  # shifted, narrower, skewed
    codes = torch.cat([torch.cat([a, b]), torch.randn(1200, 1, generator=gen)], 1)
    labels = torch.arange(2).repeat_interleave(600)
    flow = NuisanceFlow(["a", "b"], 3, 1, kind="monotone", components=6)
    fit(flow, codes, labels, lr=0.05, steps=400)  # each data set's mixture starts on its own numbers: 250 left one at 0.054
    with torch.no_grad():
        z = flow(codes[:600], labels[:600])[0]
        assert torch.allclose(flow.inverse(z, labels[:600]), codes[:600], atol=1e-4)
        moved = flow.inverse(z, torch.ones(600, dtype=torch.long))
    assert torch.equal(moved[:, 3], codes[:600, 3])
    for d in range(3):
        assert wasserstein_distance(moved[:, d].numpy(), b[:, d].numpy()) < 0.05  # the move itself is about 3
        assert spearmanr(a[:, d].numpy(), moved[:, d].numpy()).statistic == pytest.approx(1.0)


def test_coupling_nuisance_flow_keeps_the_shape_numbers_and_inverts() -> None:
    torch.manual_seed(0)
    flow = NuisanceFlow(LABELS, 4, 3, kind="coupling", blocks=3, hidden=16, embed_dim=4)
    flow.train()
    flow(torch.randn(64, 7), torch.randint(3, (64,)))  # data-dependent ActNorm start
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    flow.eval()
    h, y = torch.randn(10, 7), torch.randint(3, (10,))
    z = flow(h, y)[0]
    assert torch.allclose(flow.inverse(z, y), h, atol=1e-5)
    projected = flow.inverse(z, (y + 1) % 3)
    assert torch.equal(projected[:, 4:], h[:, 4:]) and not torch.allclose(projected[:, :4], h[:, :4], atol=1e-3)
    assert flow.class_log_likelihoods(h).shape == (10, 3)


@pytest.mark.parametrize("kind, readings", [("coupling", {}), ("monotone", {}),
                                            ("hybrid", {"colour": "hsv", "size": "drawn"})])
def test_train_save_and_load_an_object_centred_model(tmp_path, kind: str, readings: dict) -> None:
    data = tiny_data(n_per_set=10, resolution=16)
    train, held_out = split_held_out(data, 2)
    stage = lambda model: {"model": model, "train": {"steps": 3, "lr": 1e-3, "seed": 0, "batch_size": 8, "kl_weight": 0.01}}  # noqa: E731
    cfg = {"data": {"sets": LABELS},
           "autoencoder": {**stage({"resolution": 16, "latent_channels": 0, "stages": 2, "width": 4, "global_dim": 3,
                                    "decoder_depth": 1, "object_centred": True, "glimpse": 8, "frame_weight": 10.0}),
                           "pixel_noise": True},
           "flow": {**stage({"global_blocks": 2, "global_hidden": 8, "depth": 2, "embed_dim": 4, "clamp": 2.0,
                             "blocks": 1, "hidden": 4, "kernel_size": 3, "context_dim": 0, "positional": False}),
                    "kind": kind, "components": 3, **readings}}
    model = train_projection(train, held_out, cfg, tmp_path)
    loaded = ProjectionModel.from_pretrained(tmp_path / "model")
    assert isinstance(loaded.autoencoder, ObjectCentredAutoEncoder) and isinstance(loaded.flow, NuisanceFlow)
    assert loaded.flow.kind == kind and loaded.flow.dim == NUISANCE_DIM + 3
    images = held_out.batch(torch.arange(len(held_out)))[0]
    assert torch.allclose(loaded.log_posterior(images), model.log_posterior(images), atol=1e-5)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    one, two = torch.zeros(6, dtype=torch.long), torch.full((6,), 2)
    assert torch.allclose(loaded.project(images, one, two, gen()), model.project(images, one, two, gen()), atol=1e-5)
    assert isinstance(load_autoencoder(tmp_path / "model" / "autoencoder"), ObjectCentredAutoEncoder)
    assert isinstance(load_flow(tmp_path / "model" / "flow"), NuisanceFlow)
    (tmp_path / "model" / "flow" / "config.json").write_text((tmp_path / "model" / "flow" / "config.json").read_text()
                                                             .replace('"nuisance_dim": 10', '"nuisance_dim": 9'))
    with pytest.raises(WeightsError):
        ProjectionModel.from_pretrained(tmp_path / "model")


@pytest.mark.parametrize("overrides, words", [
    ({"autoencoder": {"model": {"object_centred": True, "latent_channels": 1}}}, "latent_channels=0"),
    ({"autoencoder": {"model": {"object_centred": True, "latent_channels": 0, "glimpse": 10}}}, "multiple of 4"),
    ({"flow": {"kind": "spline"}}, "flow.kind='spline'"),
    ({"flow": {"kind": "monotone"}}, "object_centred=true"),
    ({"flow": {"kind": "hybrid"}}, "object_centred=true"),
    ({"autoencoder": {"model": {"object_centred": True, "latent_channels": 0}}, "flow": {"kind": "monotone", "transport": 0.1}},
     "transport=0"),
])
def test_bad_object_centred_settings_are_one_paragraph(overrides: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        from_config(ProjectTrainSettings, overrides)
    assert "\n" not in str(err.value)


def test_bad_object_centred_constructor_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="object_centred=true"):
        ObjectCentredAutoEncoder(latent_channels=1)
    with pytest.raises(ValueError, match="kind"):
        NuisanceFlow(LABELS, 4, 2, kind="spline")
    with pytest.raises(ValueError, match="nuisance_dim >= 2"):
        NuisanceFlow(LABELS, 1, 2)


def test_degraded_targets_are_judged_by_the_degraded_judge() -> None:
    from ganalyze.projection.report import judge_for
    from ganalyze.world.classifier import ShapeClassifier

    shipped, degraded = ShapeClassifier(), ShapeClassifier()
    assert judge_for("low_quality", shipped, degraded) is degraded
    assert judge_for("warm", shipped, degraded) is shipped and judge_for("low_quality", shipped, None) is shipped


def test_report_summary_pools_each_constrained_factor_and_the_clean_and_degraded_targets() -> None:
    from ganalyze.projection.report import report_summary, summary_table

    def pair(target: str, constrained: dict[str, float], kept: float, ranks: list[float]) -> dict:
        factors = {f: {"w1_sigma": v, "rank_correlation": float("nan"), "varied_by_both": False} for f, v in constrained.items()}
        factors.update({f"r{i}": {"w1_sigma": 0.0, "rank_correlation": r, "varied_by_both": True} for i, r in enumerate(ranks)})
        return {"target": target, "constrained_factors": list(constrained), "factors": factors, "shape_class_kept": kept,
                "bars": {"w1": all(v <= 0.25 for v in constrained.values()), "kept": kept >= 0.9, "rank": min(ranks) >= 0.8}}

    summary = report_summary({"pairs": [pair("centered", {"x": 0.1, "y": 0.3}, 0.95, [0.9, 0.7]),
                                        pair("low_quality", {"sharpness": 2.0}, 0.5, [0.85]),
                                        pair("cool", {"hue": 0.2}, 0.99, [0.95, 0.9])]})
    assert summary["w1_sigma"]["position"] == pytest.approx({"mean": 0.2, "min": 0.1, "max": 0.3})
    assert summary["shape_class_kept"]["clean"]["mean"] == pytest.approx(0.97)
    assert summary["shape_class_kept"]["degraded"]["mean"] == pytest.approx(0.5)
    assert summary["rank_correlation_share_met"] == pytest.approx(0.8) and summary["pairs_meeting_all_bars"] == 1
    assert "- position W1/σ: 0.20 (0.10–0.30)" in summary_table(summary)
    assert "clean targets (%): 97.0 (95.0–99.0)" in summary_table(summary)


@torch.no_grad()
def test_a_hue_code_draws_the_hue_its_first_number_names() -> None:
    """With hue_code the colour's first number is the hue in units of HUE_STEP degrees (measured from pixels)."""
    from ganalyze.projection.object_centred import HUE_STEP

    ae = object_autoencoder()
    ae.hue_code = True
    for c0 in (0.5, 2.0, 3.5, 5.0):
        code = red_square_codes(0.0, 0.0, math.log(0.45))
        code[0, 3:6] = torch.tensor([c0, 3.0, 3.0])
        hue = float(measure(ae.decode(code))["hue"])
        assert min(abs(hue - HUE_STEP * c0), 360 - abs(hue - HUE_STEP * c0)) < 2.0


def test_hybrid_flow_moves_pose_monotone_and_colour_by_couplings_and_inverts() -> None:
    """kind=hybrid: pose and quality numbers through per-number monotone maps, colour and background through
    couplings given the label, shape and pose; the shape numbers pass; a trained flow inverts its codes."""
    gen = torch.Generator().manual_seed(1)
    codes = torch.randn(300, NUISANCE_DIM + 2, generator=gen) * 0.5
    labels = torch.arange(3).repeat(100)
    codes[:, 0] += labels  # the data sets differ in x
    flow = NuisanceFlow(LABELS, NUISANCE_DIM, 2, kind="hybrid", blocks=2, hidden=8, embed_dim=4, components=4)
    fit(flow, codes, labels, lr=0.02)
    with torch.no_grad():
        z = flow(codes, labels)[0]
        assert torch.allclose(flow.inverse(z, labels), codes, atol=1e-3)
        first = labels == 0
        moved = flow.inverse(z[first], torch.full((100,), 2))
    assert torch.equal(moved[:, NUISANCE_DIM:], codes[first, NUISANCE_DIM:])
    assert spearmanr(codes[first, 0].numpy(), moved[:, 0].numpy()).statistic == pytest.approx(1.0)
    assert float(moved[:, 0].mean()) == pytest.approx(2.0, abs=0.2)  # x moved onto data set c's
