"""Rasterise factors into images: anti-aliased shapes of saturated colour on a grey textured background.

The background (texture included) is grey (R = G = B) and the object is saturated (S = SATURATION), so a
pixel mixing object and background with coverage c has chroma exactly c times the object's chroma and the
object's hue: this is what makes measurement from pixels exact (see measure.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganalyze.world.factors import Factors
from ganalyze.world.shapes import SHAPE_NAMES, banded_sdf

SATURATION = 0.8  # with V >= 0.5 the object's chroma is >= 0.4, well above any grey
TEXTURE_CYCLES = 4  # periods of the background plaid across the image
CHUNK = 1024  # images rasterised at once: bounds the memory of the per-edge distance tensors


def coverage(factors: Factors, resolution: int) -> torch.Tensor:
    """Fraction of each pixel covered by the object, (n, R, R), from a 1-px linear ramp on the exact SDF."""
    parts = [_coverage_chunk(factors[i : i + CHUNK], resolution) for i in range(0, len(factors), CHUNK)]
    return torch.cat(parts) if parts else torch.zeros(0, resolution, resolution)


def _coverage_chunk(factors: Factors, resolution: int) -> torch.Tensor:
    """coverage() on one chunk: the SDF of each class evaluated on the images of that class."""
    grid = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution
    scale = factors.size.float().sqrt()  # unit-area shape -> image-width units
    px = (grid.view(1, 1, -1) - factors.x.float().view(-1, 1, 1)) / scale.view(-1, 1, 1)
    py = (grid.view(1, -1, 1) - factors.y.float().view(-1, 1, 1)) / scale.view(-1, 1, 1)
    px, py = px.expand(-1, resolution, -1), py.expand(-1, -1, resolution)
    px_per_unit = (scale * resolution).view(-1, 1, 1)
    half_pixel = 0.5 / px_per_unit  # the ramp's half-width in shape units: beyond it coverage is 0 or 1
    dist = torch.empty(len(factors), resolution, resolution)
    for c, name in enumerate(SHAPE_NAMES):
        idx = (factors.class_id == c).nonzero().squeeze(1)
        if len(idx):
            dist[idx] = banded_sdf(name, px[idx], py[idx], half_pixel[idx])
    return (0.5 - dist * px_per_unit).clamp(0.0, 1.0)


def hsv_to_rgb(hue: torch.Tensor, saturation: float | torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """HSV (hue in degrees) to RGB in [0, 1], (n,) -> (n, 3)."""
    h = (hue / 60.0).unsqueeze(-1)
    k = torch.remainder(torch.tensor([5.0, 3.0, 1.0]) + h, 6.0)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    return value.unsqueeze(-1) * (1.0 - torch.as_tensor(saturation).unsqueeze(-1) * ramp)


def texture_pattern(resolution: int) -> torch.Tensor:
    """The background plaid in [-1, 1], (R, R), with zero mean when R is a multiple of 2*TEXTURE_CYCLES."""
    grid = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution
    wave = torch.sin(2 * math.pi * TEXTURE_CYCLES * grid)
    return wave.view(-1, 1) * wave.view(1, -1)


def render(factors: Factors, resolution: int = 32) -> torch.Tensor:
    """Draw the images the factors describe: float32 (n, 3, R, R) in [0, 1], deterministic."""
    if resolution < 8:
        raise ValueError(f"resolution must be at least 8 pixels, got {resolution}")
    cov = coverage(factors, resolution).unsqueeze(1)
    rgb = hsv_to_rgb(factors.hue.float(), SATURATION, factors.obj_brightness.float()).view(-1, 3, 1, 1)
    amplitude = 0.5 * factors.texture.float().view(-1, 1, 1, 1)
    grey = factors.bg_brightness.float().view(-1, 1, 1, 1) + amplitude * texture_pattern(resolution)
    return (cov * rgb + (1.0 - cov) * grey.clamp(0.0, 1.0)).clamp(0.0, 1.0)


def degrade(
    images: torch.Tensor, resolution: int, blur_sigma: float, noise_std: float, generator: torch.Generator
) -> torch.Tensor:
    """Low-quality copies: upsample (bilinear) to ``resolution``, Gaussian blur, per-channel Gaussian noise."""
    out = F.interpolate(images, size=(resolution, resolution), mode="bilinear", align_corners=False)
    if blur_sigma > 0:
        out = gaussian_blur(out, blur_sigma)
    if noise_std > 0:
        out = out + noise_std * torch.randn(out.shape, generator=generator)
    return out.clamp(0.0, 1.0)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders (kernel radius 3 sigma)."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    out = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
