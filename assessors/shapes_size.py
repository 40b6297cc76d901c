"""shapes_size: a small CNN that reads the object's true area fraction off a shapes-world image.

Trained by ``scripts/train_shapes_size.py`` on rendered world images to predict the renderer's *true*
``size`` factor (not the pixel measurement of ``ganalyze.world.measure``, so evaluations that use the
measurement stay independent of this assessor). A learned regressor rather than a soft-mask formula,
because it also reads generated images whose colours and edges are imperfect. Smooth everywhere
(SiLU, strided convolutions, global average pooling, no max-pooling) so its gradients with respect to
the image are informative for GANalyze training.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ganalyze.pretrained import load_pretrained, save_pretrained

from assessors.base import Assessor, check_images, resize
from assessors.registry import register_assessor

SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "weights" / "shapes_size"


class ShapesSize(Assessor):
    """Object area as a fraction of the image (N,) for world images in [0, 1], NCHW, any size."""

    def __init__(
        self,
        channels: tuple[int, ...] = (16, 32, 48, 64),
        hidden: int = 64,
        input_size: int = 32,
        target_mean: float = 0.125,
        target_std: float = 0.05,
        score_range: tuple[float, float] = (0.05, 0.20),
    ) -> None:
        super().__init__()
        if input_size < 8 or not channels or target_std <= 0 or score_range[0] >= score_range[1]:
            raise ValueError(f"ShapesSize needs input_size >= 8, channels, target_std > 0 and a score range "
                             f"low < high; got {input_size}, {channels}, {target_std}, {score_range}")
        self.config = {"channels": list(channels), "hidden": hidden, "input_size": input_size,
                       "target_mean": target_mean, "target_std": target_std, "score_range": list(score_range)}
        self.input_size, self.target_mean, self.target_std = input_size, target_mean, target_std
        self.score_range = (float(score_range[0]), float(score_range[1]))
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 3, padding=1), nn.SiLU()]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(channels[-1], hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, "ShapesSize")
        pooled = self.features(resize(images, self.input_size) * 2.0 - 1.0).mean((2, 3))
        return self.target_mean + self.target_std * self.head(pooled).squeeze(1)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write config.json and model.pt (a plain state dict) to ``folder``."""
        return save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike = SHIPPED_WEIGHTS) -> ShapesSize:
        """Load a folder written by save_pretrained (safely, keys checked strictly); eval mode, frozen."""
        return load_pretrained(cls, folder)


@register_assessor("shapes_size")
def shapes_size(weights: str | os.PathLike | None = None) -> ShapesSize:
    """The shapes_size assessor with the weights shipped in the package, or those in the folder ``weights``."""
    return ShapesSize.from_pretrained(SHIPPED_WEIGHTS if weights is None else weights)
