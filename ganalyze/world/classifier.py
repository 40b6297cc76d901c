"""A small CNN that tells the shape class of a world image; trained on real world images only.

It is the judge of the quality report (class accuracy of generated images), so it never sees generated
images. Trained by scripts/train_shape_classifier.py; weights ship in ganalyze/weights/shape_classifier/.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganalyze.pretrained import load_pretrained, save_pretrained

SHIPPED_FOLDER = Path(__file__).resolve().parent.parent / "weights" / "shape_classifier"


def _conv_block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    """A 3×3 convolution with batch norm and ReLU, then (optionally) 2× max pooling."""
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2)) if pool else nn.Sequential(*layers)


class ShapeClassifier(nn.Module):
    """Images in [0, 1] (any size, resized to ``resolution``) -> logits over the world's shape classes."""

    def __init__(self, num_classes: int = 6, resolution: int = 32, width: int = 16):
        super().__init__()
        self.num_classes, self.resolution = num_classes, resolution
        self.config = {"num_classes": num_classes, "resolution": resolution, "width": width}
        self.features = nn.Sequential(_conv_block(3, width, True), _conv_block(width, 2 * width, True),
                                      _conv_block(2 * width, 4 * width, True), _conv_block(4 * width, 4 * width, False))
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (n, 3, H, W) in [0, 1] -> class logits (n, num_classes)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (n, 3, H, W), got {tuple(images.shape)}")
        if images.shape[-2:] != (self.resolution, self.resolution):
            images = F.interpolate(images, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                                   align_corners=False)
        h = self.features(images * 2 - 1)
        return self.head(h.mean(dim=(2, 3)))

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Predicted class ids (n,) of images in [0, 1], in batches."""
        return torch.cat([self(chunk).argmax(1) for chunk in images.split(batch_size)])

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write config.json and model.pt to ``folder``."""
        return save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "ShapeClassifier":
        """Load a frozen eval-mode classifier from ``folder`` (None: the weights shipped with the package)."""
        return load_pretrained(cls, SHIPPED_FOLDER if folder is None else folder)
