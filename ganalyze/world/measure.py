"""Measure the factors of world images from pixels alone (no learned model), real or generated.

The background is grey and the object saturated, so each pixel's chroma (max - min channel) is its
object coverage times the object's chroma, and its hue is the object's hue. Coverage = chroma / object
chroma then gives the size (mean coverage), the centroid (coverage-weighted position) and the hue
(coverage-weighted circular mean); the object's brightness comes from interior pixels and the
background's from uncovered ones. On clean rendered images this is exact up to float rounding; with
noise and blur (the low-quality variant, generated images) it stays close (see scripts/bench_world.py).
"""

from __future__ import annotations

import math

import torch

MEASURED_FACTORS: tuple[str, ...] = ("size", "x", "y", "hue", "obj_brightness", "bg_brightness")
INTERIOR = 0.75  # pixels with chroma >= INTERIOR * max chroma count as object interior
UNCOVERED = 0.02  # pixels with coverage below this count as background
MIN_CHROMA = 1e-3  # below this an image has no object to speak of


def rgb_hue(images: torch.Tensor) -> torch.Tensor:
    """Per-pixel HSV hue in degrees [0, 360) of (n, 3, H, W) images -> (n, H, W); 0 where grey."""
    r, g, b = images.unbind(1)
    mx, mn = images.amax(1), images.amin(1)
    chroma = (mx - mn).clamp_min(1e-12)
    h = torch.where(mx == r, torch.remainder((g - b) / chroma, 6.0),
                    torch.where(mx == g, (b - r) / chroma + 2.0, (r - g) / chroma + 4.0))
    return torch.where(mx > mn, 60.0 * h, torch.zeros_like(h))


def _masked_median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Median over the pixels where mask holds, per image; NaN where none does. (n, P) -> (n,)"""
    return torch.where(mask, values, torch.full_like(values, math.nan)).nanmedian(dim=1).values


def coverage_map(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Object coverage per pixel (n, H, W) in [0, 1], the object's interior mask, and a linear coverage estimate.

    The object's chroma is the median over its interior, found in two passes so that noise inflating
    the brightest pixels does not inflate it. The coverage starts at twice the median chroma (0 on clean
    images, where the object covers less than half the image), so background noise gets no weight: it
    weighs pixels for centroid and hue. The linear estimate (not clamped) subtracts the background's mean
    chroma instead, so it is unbiased under zero-mean noise: its mean is the size.
    """
    n, _, h, w = images.shape
    chroma = (images.amax(1) - images.amin(1)).reshape(n, -1)
    floor = 2.0 * chroma.median(dim=1, keepdim=True).values
    background = chroma <= floor
    level = (chroma * background).sum(1, keepdim=True) / background.sum(1, keepdim=True).clamp_min(1)
    obj_chroma = chroma.amax(1, keepdim=True)
    for _ in range(2):
        interior = chroma >= INTERIOR * obj_chroma
        obj_chroma = _masked_median(chroma, interior).unsqueeze(1)
    linear = _rescale(chroma, level, obj_chroma)
    weights = _rescale(chroma, floor, obj_chroma).clamp(0.0, 1.0)
    return weights.reshape(n, h, w), interior.reshape(n, h, w), linear.reshape(n, h, w)


def _rescale(chroma: torch.Tensor, zero: torch.Tensor, one: torch.Tensor) -> torch.Tensor:
    """(chroma - zero) / (one - zero), or 0 for images whose object chroma barely exceeds ``zero``."""
    span = one - zero
    return torch.where(span > MIN_CHROMA, (chroma - zero) / span.clamp_min(MIN_CHROMA), torch.zeros_like(chroma))


def measure(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Measure size, centroid x/y, hue, object and background brightness of (n, 3, H, W) images in [0, 1].

    Returns a dict of float tensors (n,), always finite: an image with no coloured object gets size 0,
    centroid 0.5, hue 0 and object brightness 0.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"measure expects images of shape (n, 3, H, W), got {tuple(images.shape)}")
    images = torch.nan_to_num(images.detach().float()).clamp(0.0, 1.0)
    n, _, h, w = images.shape
    cov, interior, linear = coverage_map(images)
    size = linear.mean((1, 2)).clamp_min(0.0)
    mass = cov.sum((1, 2))
    has_object = mass > 0
    safe_mass = mass.clamp_min(1e-12)
    xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    x = torch.where(has_object, (cov * xs.view(1, 1, w)).sum((1, 2)) / safe_mass, torch.full_like(mass, 0.5))
    y = torch.where(has_object, (cov * ys.view(1, h, 1)).sum((1, 2)) / safe_mass, torch.full_like(mass, 0.5))

    angle = torch.deg2rad(rgb_hue(images))
    hue = torch.rad2deg(torch.atan2((cov * angle.sin()).sum((1, 2)), (cov * angle.cos()).sum((1, 2))))
    hue = torch.where(has_object, torch.remainder(hue, 360.0), torch.zeros_like(hue))

    value = images.amax(1).reshape(n, -1)
    obj_brightness = _masked_median(value, interior.reshape(n, -1))
    obj_brightness = torch.where(has_object, torch.nan_to_num(obj_brightness), torch.zeros_like(mass))

    grey = images.mean(1).reshape(n, -1)
    background = cov.reshape(n, -1) < UNCOVERED
    bg_sum = (grey * background).sum(1)
    bg_count = background.sum(1)
    bg_brightness = torch.where(bg_count > 0, bg_sum / bg_count.clamp_min(1), grey.mean(1))
    return {"size": size, "x": x, "y": y, "hue": hue,
            "obj_brightness": obj_brightness, "bg_brightness": bg_brightness}
