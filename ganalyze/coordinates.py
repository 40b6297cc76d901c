"""The pixel-coordinate grid that coordinate-conditioned networks (broadcast decoders, positional flows) read."""

from __future__ import annotations

import torch


def coordinate_maps(height: int, width: int) -> torch.Tensor:
    """(2, H, W): x and y of every position, in [-1, 1]."""
    ys = torch.linspace(-1, 1, height)[:, None].expand(height, width)
    xs = torch.linspace(-1, 1, width)[None, :].expand(height, width)
    return torch.stack([xs, ys])
