"""A spatial broadcast decoder (Watters et al. 2019) for the shapes generator: fast to train on sprite-like scenes.

The code and the class embedding are broadcast over the pixel grid beside x/y coordinate channels, and small
convolutions at full resolution turn them into pixels. With ``composite`` the output is a foreground colour,
a background and a soft mask, blended as mask·foreground + (1 - mask)·background (a layered generator, as
LR-GAN's), so the shape's outline, its colour and the backdrop are learned as separate maps. With ``frame``
the code also predicts a shift and a scale, and a second pair of coordinate channels is given in that frame
(centred on the object, in its units), so one outline per class serves every position and size; ``fourier``
octaves of sines and cosines of those coordinates (a positional encoding) make sharp corners cheap to draw;
``image_fourier`` octaves of the image's own coordinates give the background's texture a basis of its own, so it
has no reason to move the object's frame.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganalyze.coordinates import coordinate_maps


class BroadcastDecoder(nn.Module):
    """p(x | w, y): [w, embed(y)] broadcast over a coordinate grid, ``depth`` convolutions, sigmoid output."""

    def __init__(self, dim_z: int, num_classes: int, resolution: int = 32, width: int = 32, embed_dim: int = 16,
                 depth: int = 4, composite: bool = True, frame: bool = False, fourier: int = 0,
                 image_fourier: int = 0):
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2 (the broadcast layer and the output layer), got {depth}")
        if fourier < 0 or (fourier and not frame):
            raise ValueError(f"fourier must be 0, or a number of octaves >= 1 together with frame=True; got {fourier}")
        if image_fourier < 0:
            raise ValueError(f"image_fourier must be 0 or a number of octaves >= 1, got {image_fourier}")
        self.register_buffer("coords", coordinate_maps(resolution, resolution)[None], persistent=False)  # (1, 2, R, R)
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.code_in = nn.Linear(dim_z + embed_dim, width)
        self.frame = nn.Linear(dim_z + embed_dim, 3) if frame else None  # shift x, y and log-scale of the frame
        if self.frame is not None:
            nn.init.zeros_(self.frame.weight)  # starts as the image's own frame
            nn.init.zeros_(self.frame.bias)
        self.register_buffer("frequencies", math.pi * 2.0 ** torch.arange(fourier, dtype=torch.float), persistent=False)
        octaves = math.pi * 2.0 ** torch.arange(image_fourier, dtype=torch.float)
        image_angles = (self.coords[:, :, None] * octaves[:, None, None]).flatten(1, 2)  # (1, 2 x octaves, R, R)
        self.register_buffer("image_coords", torch.cat([self.coords, image_angles.sin(), image_angles.cos()], 1),
                             persistent=False)  # the image's coordinates and their waves, fixed: built once
        self.coords_in = nn.Conv2d(2 + (2 + 4 * fourier if frame else 0) + 4 * image_fourier, width, 1, bias=False)
        layers: list[nn.Module] = []
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
        self.body = nn.Sequential(nn.SiLU(), *layers, nn.Conv2d(width, 7 if composite else 3, 1))
        self.composite = composite

    def forward(self, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latent codes and class ids -> images in [0, 1], NCHW."""
        h = torch.cat([w, self.embed(y)], dim=1)
        coords = self.image_coords
        if self.frame is not None:
            shift, log_scale = self.frame(h)[:, :, None, None].split([2, 1], dim=1)
            local = (self.coords - shift) * torch.exp(-log_scale)
            angles = (local[:, :, None] * self.frequencies[:, None, None]).flatten(1, 2)  # (n, 2 x octaves, R, R)
            coords = torch.cat([coords.expand(len(w), -1, -1, -1), local, angles.sin(), angles.cos()], dim=1)
        out = self.body(self.code_in(h)[:, :, None, None] + self.coords_in(coords))  # linear in [code, coords]
        if not self.composite:
            return torch.sigmoid(out)
        foreground, background, mask = torch.sigmoid(out).split([3, 3, 1], dim=1)
        return mask * foreground + (1 - mask) * background
