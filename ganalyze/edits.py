"""Image edits that steerability walks learn to imitate: each maps (images, alpha) to (edited, mask).

Every edit takes float NCHW images in [0, 1] and ``alpha`` with one value per image (shape (N,) or
(N, k) for k-slider edits) and returns the edited images and a validity mask of shape (N, 1, H, W)
(1.0 where the edited pixel comes from inside the frame, 0.0 where it would come from outside it).

Alpha conventions (alpha = 0 is the identity for every edit):

- ``zoom``: log2 of the scale factor about the image centre (alpha = 1 doubles the object's size,
  alpha = -1 halves it; pixels that a zoom-out brings in from outside the frame are masked).
- ``shift_x`` / ``shift_y``: translation in pixels of the image's own resolution; positive moves the
  content right / down. Integer shifts are exact: a shift by k masks k columns (rows).
- ``rotate``: angle in degrees, positive turns the content counter-clockwise as displayed
  (rotate by 90 equals ``torch.rot90(x, 1, dims=(2, 3))`` on square images).
- ``brightness``: intensity added to every channel (images are in [0, 1]), result clipped to [0, 1].
- ``color``: three sliders, alpha of shape (N, 3): intensity added to R, G and B, clipped to [0, 1];
  a linear walk learns it with k = 3 directions, one per channel.
- ``hue``: degrees by which every colour turns about the grey axis of the RGB cube (red -> green ->
  blue for positive alpha; greys stay put), clipped to [0, 1]. For saturated colours this moves the
  HSV hue by about alpha: the colour edit whose attribute is the shapes world's hue factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ganalyze.errors import ConfigError, UnknownNameError

EditFn = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]

# Source points this far past the frame edge (in normalised units) still count as inside: float slack.
_EDGE_SLACK = 1e-5


def _check_images(images: torch.Tensor) -> None:
    """Raise ConfigError unless ``images`` is a float NCHW batch."""
    if images.dim() != 4 or not images.is_floating_point():
        raise ConfigError(
            f"edits take float images of shape (N, C, H, W), got dtype {images.dtype} and shape {tuple(images.shape)}."
        )


def per_sample_alpha(alpha: torch.Tensor | float, n: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Return ``alpha`` as a float tensor of shape (n,) (width 1) or (n, width); a scalar is broadcast."""
    alpha = torch.as_tensor(alpha, dtype=like.dtype, device=like.device)
    expected = (n,) if width == 1 else (n, width)
    if alpha.dim() == 0:
        alpha = alpha.expand(expected)
    if width == 1 and alpha.dim() == 2 and alpha.shape[1] == 1:
        alpha = alpha[:, 0]
    if tuple(alpha.shape) != expected:
        raise ConfigError(
            f"alpha has shape {tuple(alpha.shape)} but this edit needs one value per image, shape {expected}."
        )
    return alpha


def _warp(images: torch.Tensor, linear: torch.Tensor, shift: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample so that output pixel p shows input point ``linear @ p + shift`` (centred pixel units).

    ``linear`` is (N, 2, 2), ``shift`` is (N, 2), both in pixel units with the origin at the image
    centre and axes (x right, y down). The mask is 1 where that source point lies inside the frame.
    """
    n, _, h, w = images.shape
    half = torch.tensor([w / 2.0, h / 2.0], dtype=images.dtype, device=images.device)
    # affine_grid works in normalised units (-1..1 across the frame): theta = D^-1 A D, D^-1 t.
    theta_lin = linear * half[None, None, :] / half[None, :, None]
    theta = torch.cat([theta_lin, (shift / half)[:, :, None]], dim=2)
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    edited = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    inside = (grid.abs() <= 1.0 + _EDGE_SLACK).all(dim=-1)
    return edited, inside[:, None].to(images.dtype)


def _identity_linear(n: int, like: torch.Tensor) -> torch.Tensor:
    """A batch of 2x2 identity matrices."""
    return torch.eye(2, dtype=like.dtype, device=like.device).expand(n, 2, 2).clone()


def zoom(images: torch.Tensor, alpha: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale about the centre by 2**alpha (alpha = log2 of the scale factor)."""
    _check_images(images)
    n = images.shape[0]
    scale = torch.pow(2.0, per_sample_alpha(alpha, n, 1, images))
    linear = _identity_linear(n, images) / scale[:, None, None]
    return _warp(images, linear, torch.zeros(n, 2, dtype=images.dtype, device=images.device))


def _shift(images: torch.Tensor, alpha: torch.Tensor | float, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate the content by alpha pixels along ``axis`` (0 = x, right; 1 = y, down)."""
    _check_images(images)
    n = images.shape[0]
    shift = torch.zeros(n, 2, dtype=images.dtype, device=images.device)
    shift[:, axis] = -per_sample_alpha(alpha, n, 1, images)
    return _warp(images, _identity_linear(n, images), shift)


def shift_x(images: torch.Tensor, alpha: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the content right by alpha pixels (left for negative alpha)."""
    return _shift(images, alpha, axis=0)


def shift_y(images: torch.Tensor, alpha: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Move the content down by alpha pixels (up for negative alpha)."""
    return _shift(images, alpha, axis=1)


def rotate(images: torch.Tensor, alpha: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn the content counter-clockwise (as displayed) by alpha degrees about the centre."""
    _check_images(images)
    n = images.shape[0]
    rad = per_sample_alpha(alpha, n, 1, images) * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    # Output p shows source R(-angle) p in y-down coordinates: [[cos, -sin], [sin, cos]].
    linear = torch.stack([torch.stack([cos, -sin], dim=-1), torch.stack([sin, cos], dim=-1)], dim=-2)
    return _warp(images, linear, torch.zeros(n, 2, dtype=images.dtype, device=images.device))


def _full_mask(images: torch.Tensor) -> torch.Tensor:
    """A mask of ones: photometric edits bring in nothing from outside the frame."""
    n, _, h, w = images.shape
    return torch.ones(n, 1, h, w, dtype=images.dtype, device=images.device)


def brightness(images: torch.Tensor, alpha: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Add alpha to every channel, clipped to [0, 1]."""
    _check_images(images)
    a = per_sample_alpha(alpha, images.shape[0], 1, images)
    return (images + a[:, None, None, None]).clamp(0.0, 1.0), _full_mask(images)


def color(images: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Add alpha[:, c] to channel c (three sliders: R, G, B), clipped to [0, 1]."""
    _check_images(images)
    if images.shape[1] != 3:
        raise ConfigError(f"the color edit needs RGB images (3 channels), got {images.shape[1]} channels.")
    a = per_sample_alpha(alpha, images.shape[0], 3, images)
    return (images + a[:, :, None, None]).clamp(0.0, 1.0), _full_mask(images)


def _grey_axis_rotation(degrees: torch.Tensor) -> torch.Tensor:
    """RGB rotation matrices (N, 3, 3) about the unit grey axis k: cos I + sin [k]x + (1 - cos) k k^T."""
    rad = degrees * (math.pi / 180.0)
    cos, sin = torch.cos(rad)[:, None, None], torch.sin(rad)[:, None, None]
    k = torch.full((3,), 1.0 / math.sqrt(3.0), dtype=degrees.dtype, device=degrees.device)
    cross = torch.tensor([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]], dtype=degrees.dtype,
                         device=degrees.device) / math.sqrt(3.0)
    eye = torch.eye(3, dtype=degrees.dtype, device=degrees.device)
    return cos * eye + sin * cross + (1 - cos) * torch.outer(k, k)


def hue(images: torch.Tensor, alpha: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn every pixel's colour by alpha degrees about the grey axis (red towards green), clipped to [0, 1]."""
    _check_images(images)
    if images.shape[1] != 3:
        raise ConfigError(f"the hue edit needs RGB images (3 channels), got {images.shape[1]} channels.")
    matrix = _grey_axis_rotation(per_sample_alpha(alpha, images.shape[0], 1, images))
    return torch.einsum("nij,njhw->nihw", matrix, images).clamp(0.0, 1.0), _full_mask(images)


@dataclass(frozen=True)
class Edit:
    """An edit by name: the function, how many sliders alpha has per image, and alpha's unit."""

    name: str
    apply: EditFn
    alpha_dim: int
    unit: str


EDITS: dict[str, Edit] = {
    e.name: e
    for e in (
        Edit("zoom", zoom, 1, "log2 scale factor"),
        Edit("shift_x", shift_x, 1, "pixels"),
        Edit("shift_y", shift_y, 1, "pixels"),
        Edit("rotate", rotate, 1, "degrees"),
        Edit("brightness", brightness, 1, "intensity"),
        Edit("color", color, 3, "intensity per channel (R, G, B)"),
        Edit("hue", hue, 1, "degrees about the grey axis"),
    )
}


def get_edit(name: str) -> Edit:
    """Look up an edit by name, or raise UnknownNameError listing the known ones."""
    try:
        return EDITS[name]
    except KeyError:
        raise UnknownNameError(f"unknown edit {name!r}; known edits are: {', '.join(sorted(EDITS))}.") from None
