"""The Assessor protocol, documented in this one place.

An assessor is a frozen, differentiable scorer of images, the "A" of GANalyze's objective
A(G(T(z, alpha), y)) = A(G(z, y)) + alpha:

- **Input**: float images in [0, 1], NCHW, RGB, any height and width, on any device. The assessor
  does its own resizing and normalisation (BGR order, mean subtraction, crops...), inside ``forward``,
  with differentiable operations, so that gradients reach the images.
- **Output**: one score per image, a float tensor of shape (N,) on the input's device.
- **score_range**: ``(low, high)`` when the score is bounded (training clips its targets
  A(x) + alpha to it), or None when it is not.
- **Frozen**: ``create_assessor`` returns it in eval mode with no parameter requiring grad; gradients
  still flow to the input images.

Three ways to provide one, none needing an edit to this package (see ``assessors.registry``):
``@register_assessor("name")`` on a class or factory in code you import; an entry point in the
``ganalyze.assessors`` group of an installed package (``name = "module:Class"``), whose ``name.yaml``
shipped next to that module becomes the Hydra config ``assessor=name``; or a Hydra config whose
``_target_`` names the class.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Assessor(nn.Module):
    """Base class of assessors: ``forward(images in [0, 1], NCHW) -> scores (N,)``; see the module docstring."""

    score_range: tuple[float, float] | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def check_images(images: torch.Tensor, who: str) -> None:
    """Raise ValueError unless ``images`` is a float NCHW tensor with 3 channels (the protocol's input)."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{who} expects RGB images as a float tensor of shape (N, 3, H, W) in [0, 1], got {shape}.")
    if not images.is_floating_point():
        raise ValueError(f"{who} expects float images in [0, 1], got dtype {images.dtype}; divide uint8 images by 255.")


def resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear, antialiased (when shrinking), differentiable resize to ``size``; a no-op when already that size."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == hw:
        return images
    # Antialiasing only changes a shrink; its kernel has no bfloat16 CPU version (autocast), so a bf16 shrink runs in fp32.
    shrink = images.shape[-2] > hw[0] or images.shape[-1] > hw[1]
    if shrink and images.dtype == torch.bfloat16:
        return F.interpolate(images.float(), size=hw, mode="bilinear", align_corners=False, antialias=True).to(images.dtype)
    return F.interpolate(images, size=hw, mode="bilinear", align_corners=False, antialias=shrink)
