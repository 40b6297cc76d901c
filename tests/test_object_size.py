"""Object size for real images: the saliency estimate on known discs and on the shapes world, gradients,
and the optional torchvision segmentation model loaded from local weights."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import spearmanr
from torchvision.models.segmentation import lraspp_mobilenet_v3_large

from assessors import create_assessor
from assessors.object_size import ObjectSize
from ganalyze.errors import ConfigError, WeightsError
from ganalyze.world import load_variant

torch.set_num_threads(1)


def disc_on(background: torch.Tensor, radius: float, colour=(0.85, 0.3, 0.1), cx: float = 0.5, cy: float = 0.55) -> torch.Tensor:
    """A disc of ``radius`` (fraction of the side) pasted with anti-aliased edges on ``background`` (3, S, S)."""
    size = background.shape[-1]
    ys, xs = torch.meshgrid((torch.arange(size) + 0.5) / size, (torch.arange(size) + 0.5) / size, indexing="ij")
    inside = ((radius - ((xs - cx) ** 2 + (ys - cy) ** 2).sqrt()) * size + 0.5).clamp(0, 1)
    return (background * (1 - inside) + torch.tensor(colour).view(3, 1, 1) * inside)[None]


def sky_and_ground(size: int = 96) -> torch.Tensor:
    """A two-tone background: blue sky above, green-grey ground below, each with a gentle gradient."""
    t = torch.linspace(0, 1, size).view(size, 1).expand(size, size)
    sky = torch.stack([0.45 + 0.1 * t, 0.6 + 0.1 * t, 0.85 - 0.05 * t])
    ground = torch.stack([0.35 + 0.05 * t, 0.45 + 0.05 * t, 0.3 + 0.05 * t])
    return torch.where(t < 0.5, sky, ground)


@pytest.mark.parametrize("background", ["flat", "sky_and_ground"])
def test_fraction_of_known_discs(background):
    model = create_assessor("object_size")
    assert model.score_range == (0.0, 1.0)
    base = torch.full((3, 96, 96), 0.5) if background == "flat" else sky_and_ground()
    radii = [0.08, 0.14, 0.2, 0.26, 0.32]
    images = torch.cat([disc_on(base, r) for r in radii])
    scores = model(images)
    true = torch.tensor([math.pi * r**2 for r in radii])
    assert (scores - true).abs().max() < 0.02, (scores, true)
    assert torch.all(scores[1:] > scores[:-1])


def test_follows_the_true_size_on_the_shapes_world():
    images, truth = load_variant("broad").sample(120, seed=5)
    scores = create_assessor("object_size")(images)
    assert spearmanr(scores, truth.size)[0] >= 0.9
    assert (scores - truth.size).abs().mean() < 0.02


def test_gradients_reach_the_images():
    images = disc_on(sky_and_ground(64), 0.2).requires_grad_()
    create_assessor("object_size")(images).sum().backward()
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="border"):
        ObjectSize(border=0.7)
    with pytest.raises(ConfigError, match="segmentation_arch 'unet'"):
        ObjectSize(segmentation_weights=tmp_path / "w.pt", segmentation_arch="unet")
    with pytest.raises(WeightsError, match="w.pt"):
        ObjectSize(segmentation_weights=tmp_path / "w.pt", segmentation_arch="lraspp_mobilenet_v3_large")


def test_segmentation_model_from_local_weights(tmp_path):
    torch.manual_seed(0)
    reference = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=21).eval()
    torch.save(reference.state_dict(), tmp_path / "lraspp.pt")
    model = create_assessor(
        "object_size", segmentation_weights=str(tmp_path / "lraspp.pt"),
        segmentation_arch="lraspp_mobilenet_v3_large", segmentation_size=64,
    )
    images = torch.rand(2, 3, 48, 40, requires_grad=True)
    scores = model(images)
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        x = torch.nn.functional.interpolate(images, size=(64, 64), mode="bilinear", antialias=True)
        expected = 1 - reference((x - mean) / std)["out"].softmax(1)[:, 0].mean((1, 2))
    torch.testing.assert_close(scores.detach(), expected, rtol=1e-4, atol=1e-5)
    scores.sum().backward()
    assert images.grad.abs().sum() > 0
    with pytest.raises(WeightsError, match="mis-shaped keys .*classifier"):
        ObjectSize(segmentation_weights=tmp_path / "lraspp.pt", segmentation_arch="lraspp_mobilenet_v3_large", num_classes=5)
