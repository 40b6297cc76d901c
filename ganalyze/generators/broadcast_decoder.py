"""A spatial broadcast decoder (Watters et al. 2019) for the shapes generator: fast to train on sprite-like scenes.

The code and the class embedding are broadcast over the pixel grid beside x/y coordinate channels, and small
convolutions at full resolution turn them into pixels. With ``composite`` the output is a foreground colour,
a background and a soft mask, blended as mask·foreground + (1 - mask)·background (a layered generator, as
LR-GAN's), so the shape's outline, its colour and the backdrop are learned as separate maps.
"""

from __future__ import annotations

import torch
from torch import nn


class BroadcastDecoder(nn.Module):
    """p(x | w, y): [w, embed(y)] broadcast over a coordinate grid, ``depth`` convolutions, sigmoid output."""

    def __init__(self, dim_z: int, num_classes: int, resolution: int = 32, width: int = 32, embed_dim: int = 16,
                 depth: int = 4, composite: bool = True):
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2 (the broadcast layer and the output layer), got {depth}")
        grid = torch.linspace(-1.0, 1.0, resolution)
        rows, cols = torch.meshgrid(grid, grid, indexing="ij")
        self.register_buffer("coords", torch.stack([cols, rows])[None], persistent=False)  # (1, 2, R, R)
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.code_in = nn.Linear(dim_z + embed_dim, width)
        self.coords_in = nn.Conv2d(2, width, 1, bias=False)
        layers: list[nn.Module] = []
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
        self.body = nn.Sequential(nn.SiLU(), *layers, nn.Conv2d(width, 7 if composite else 3, 1))
        self.composite = composite

    def forward(self, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latent codes and class ids -> images in [0, 1], NCHW."""
        code = self.code_in(torch.cat([w, self.embed(y)], dim=1))[:, :, None, None]
        out = self.body(code + self.coords_in(self.coords))  # a linear map of [tiled code, coords], broadcast
        if not self.composite:
            return torch.sigmoid(out)
        foreground, background, mask = torch.sigmoid(out).split([3, 3, 1], dim=1)
        return mask * foreground + (1 - mask) * background
