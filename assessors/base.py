"""The Assessor protocol: images in [0, 1] (NCHW, any size) -> one score per image."""

from __future__ import annotations

import torch
from torch import nn


class Assessor(nn.Module):
    """A frozen, differentiable scorer of images.

    ``forward(images)`` takes float NCHW images in [0, 1] of any size and returns scores of shape (N,).
    The assessor does its own resizing and normalisation. ``score_range`` is (low, high) when the score
    is bounded; training clips its targets A(x) + alpha to that range. None means unbounded.
    """

    score_range: tuple[float, float] | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError
