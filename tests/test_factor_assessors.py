"""Image-factor assessors: known values, monotone and smooth responses, gradients, and agreement with the
true factors of the shapes world."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from assessors import create_assessor
from assessors.factors import FACTORS, measure_factors
from ganalyze.world import load_variant

torch.set_num_threads(1)


def constant(r: float, g: float, b: float, size: int = 16) -> torch.Tensor:
    return torch.tensor([r, g, b], dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


def disc(cx: float, cy: float, radius: float, size: int = 48, colour=(0.9, 0.2, 0.1), background=0.4) -> torch.Tensor:
    """A soft-edged coloured disc on a grey background; centre and radius as fractions of the side."""
    ys, xs = torch.meshgrid((torch.arange(size) + 0.5) / size, (torch.arange(size) + 0.5) / size, indexing="ij")
    inside = torch.sigmoid((radius - ((xs - cx) ** 2 + (ys - cy) ** 2).sqrt()) * size * 2)
    colour = torch.tensor(colour).view(3, 1, 1)
    return (background * (1 - inside) + colour * inside)[None]


@pytest.mark.parametrize("name", sorted(FACTORS))
def test_scores_are_bounded_differentiable_and_any_size(name):
    model = create_assessor(name)
    assert model.score_range == (0.0, 1.0)
    for shape in [(2, 3, 17, 29), (1, 3, 64, 64)]:
        images = torch.rand(shape, generator=torch.Generator().manual_seed(0)).requires_grad_()
        scores = model(images)
        assert scores.shape == (shape[0],) and torch.all((scores >= 0) & (scores <= 1))
        scores.sum().backward()
        assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    flat = constant(0.5, 0.5, 0.5).requires_grad_()
    model(flat).sum().backward()  # flat images are where square roots and logs could break
    assert torch.isfinite(flat.grad).all()


def test_known_values():
    grey, red, cyan = constant(0.5, 0.5, 0.5), constant(1, 0, 0), constant(0, 1, 1)
    assert FACTORS["brightness"](constant(0.2, 0.2, 0.2)).item() == pytest.approx(0.2, abs=1e-6)
    assert FACTORS["brightness"](red).item() == pytest.approx(0.299, abs=1e-6)
    assert FACTORS["redness"](red).item() == pytest.approx(1.0)
    assert FACTORS["redness"](grey).item() == pytest.approx(0.5)
    assert FACTORS["redness"](cyan).item() == pytest.approx(0.0)
    assert FACTORS["colourfulness"](grey).item() == pytest.approx(0.0, abs=1e-3)
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 64, 64)
    assert FACTORS["simplicity"](grey).item() > 0.98
    assert FACTORS["simplicity"](ramp).item() > 0.75  # a smooth gradient is simple, though its histogram is wide
    assert FACTORS["simplicity"](torch.rand(1, 3, 64, 64)).item() < 0.05
    assert FACTORS["centeredness"](disc(0.5, 0.5, 0.15)).item() > 0.95
    assert FACTORS["centeredness"](disc(0.2, 0.2, 0.1)).item() < 0.6


def test_colourfulness_is_hasler_and_suesstrunk_on_the_0_255_scale():
    image = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(3))
    r, g, b = (image[0].numpy().reshape(3, -1) * 255).astype(np.float64)
    rg, yb = r - g, 0.5 * (r + g) - b
    metric = math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    assert FACTORS["colourfulness"](image).item() * 255 * math.sqrt(1.25 * 1.09) == pytest.approx(metric, rel=1e-4)
    half = torch.zeros(1, 3, 8, 8)  # blue | yellow: sqrt(σ_rg² + σ_yb²) = 1, means 0
    half[:, 2, :, :4] = 1.0
    half[:, :2, :, 4:] = 1.0
    assert FACTORS["colourfulness"](half).item() == pytest.approx(1 / math.sqrt(1.25 * 1.09), rel=1e-4)


def _strictly_increasing(values: list[float]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


def test_each_factor_rises_smoothly_along_its_own_change():
    steps = torch.linspace(0, 1, 9)
    grey, red = constant(0.5, 0.5, 0.5, 32), constant(0.9, 0.1, 0.1, 32)
    palette = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    families = {
        "brightness": [palette * (0.3 + 0.7 * t) for t in steps],
        "redness": [grey * (1 - t) + red * t for t in steps],
        "colourfulness": [grey * (1 - t) + palette * t for t in steps],
        "centeredness": [disc(0.15 + 0.35 * t, 0.2 + 0.3 * t, 0.12) for t in steps],
        "simplicity": [grey * t + noise * (1 - t) for t in steps],
    }
    for name, images in families.items():
        scores = FACTORS[name](torch.cat(images)).tolist()
        assert _strictly_increasing(scores), f"{name}: {scores}"
        jumps = np.diff(scores)
        assert jumps.max() < 0.5 * (scores[-1] - scores[0]), f"{name} jumps: {jumps}"


def test_factors_follow_the_true_factors_of_the_shapes_world():
    images, truth = load_variant("broad").sample(120, seed=11)
    measured = measure_factors(images)
    distance = ((truth.x - 0.5) ** 2 + (truth.y - 0.5) ** 2).sqrt()
    redness_of_hue = torch.cos(torch.deg2rad(truth.hue))
    assert spearmanr(measured["centeredness"], -distance)[0] >= 0.9
    assert spearmanr(measured["brightness"], truth.bg_brightness)[0] >= 0.9  # the background fills most pixels
    assert spearmanr(measured["redness"], redness_of_hue)[0] >= 0.85
    assert spearmanr(measured["simplicity"], -truth.texture)[0] >= 0.9
    assert all(not v.requires_grad for v in measured.values())
