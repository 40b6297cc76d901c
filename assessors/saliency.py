"""A class-agnostic, differentiable foreground mask: colour contrast against the image border, in CIELAB.

The border is assumed to be background (as in photos of one object, BigGAN samples, the shapes
world). Each pixel's distance to the nearest of several border colours (each side split into
segments, so skies and floors count too) is thresholded softly, the threshold rising with how
textured the border is. Used by the object-size and centeredness assessors.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# sRGB (D65) -> XYZ, and the D65 white point.
_RGB_TO_XYZ = torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])
_DELTA = 6.0 / 29.0


def rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """sRGB images in [0, 1], (N, 3, H, W) -> CIELAB (L in [0, 100]), differentiable everywhere."""
    rgb = images.clamp(0.0, 1.0)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)
    matrix = _RGB_TO_XYZ.to(images) / _WHITE.to(images)[:, None]
    xyz = torch.einsum("ij,njhw->nihw", matrix, linear)
    f = torch.where(xyz > _DELTA**3, xyz.clamp(min=_DELTA**3) ** (1.0 / 3.0), xyz / (3 * _DELTA**2) + 4.0 / 29.0)
    fx, fy, fz = f.unbind(1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def band_width(height: int, width: int, border: float) -> int:
    """Width in pixels of the border band, ``border`` of the shorter side (at least one pixel)."""
    return max(1, round(border * min(height, width)))


def border_colours(lab: torch.Tensor, border: float, segments: int) -> torch.Tensor:
    """Mean colours of the border band, each side split into ``segments`` pieces: (N, 4 * segments, 3)."""
    band = band_width(*lab.shape[-2:], border)
    sides = [lab[..., :band, :], lab[..., -band:, :], lab[..., :, :band].transpose(-1, -2), lab[..., :, -band:].transpose(-1, -2)]
    # Each side is now (N, 3, band, length); pool its length into ``segments`` means.
    pooled = [F.adaptive_avg_pool2d(side, (1, segments)).flatten(2) for side in sides]
    return torch.cat(pooled, dim=2).transpose(1, 2)


def foreground_mask(
    images: torch.Tensor,
    border: float = 0.08,
    segments: int = 4,
    threshold: float = 12.0,
    softness: float = 2.0,
) -> torch.Tensor:
    """Soft foreground mask (N, H, W) in (0, 1): sigmoid((distance to border colours - tau) / softness).

    Distances are CIELAB ΔE; tau = ``threshold`` + 2 x the border's own mean distance to its colours.
    """
    lab = rgb_to_lab(images)
    colours = border_colours(lab, border, segments)  # (N, K, 3)
    squared = (lab.unsqueeze(1) - colours[..., None, None]).pow(2).sum(2)  # (N, K, H, W)
    distance = (squared.amin(dim=1) + 1e-6).sqrt()  # eps: finite gradient on flat backgrounds
    band = band_width(*distance.shape[-2:], border)
    in_band = torch.ones_like(distance, dtype=torch.bool)
    in_band[:, band:-band, band:-band] = False
    spread = (distance * in_band).sum((1, 2)) / in_band.sum((1, 2))
    tau = threshold + 2.0 * spread
    return torch.sigmoid((distance - tau[:, None, None]) / softness)
