"""A CNN that tells the projection's data sets apart, trained on real images only: the judge of the evaluation.

It never sees projected or generated images, so "projected onto B" is measured by a model that knows only
what real B images look like. Convolutions keep a 4×4 map before the linear head, so position biases
(such as a centred variant) stay visible to it, not only colour.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganalyze.errors import UnknownNameError
from ganalyze.pretrained import load_pretrained, save_pretrained
from ganalyze.projection.datasets import LabelledImages
from ganalyze.projection.train import optimise, random_rows


class VariantClassifier(nn.Module):
    """Images in [0, 1] (any size, resized to ``resolution``) -> logits over ``labels``."""

    def __init__(self, labels: list[str], resolution: int = 32, width: int = 16):
        super().__init__()
        self.config = {"labels": list(labels), "resolution": resolution, "width": width}
        self.labels, self.resolution = list(labels), resolution
        layers: list[nn.Module] = []
        chans = [3, width, 2 * width, 4 * width]
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        side = resolution // 8
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(nn.Linear(4 * width * side * side, 64), nn.ReLU(), nn.Linear(64, len(labels)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N, 3, H, W) in [0, 1] -> logits (N, K)."""
        if images.shape[-2:] != (self.resolution, self.resolution):
            images = F.interpolate(images, size=(self.resolution, self.resolution), mode="bilinear",
                                   antialias=True, align_corners=False)
        return self.head(self.features(images * 2 - 1))

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Class probabilities (N, K), in batches."""
        return torch.cat([self(images[i : i + batch_size]).softmax(1) for i in range(0, len(images), batch_size)])

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """Write config.json and model.pt to ``folder``."""
        save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "VariantClassifier":
        """Load a folder written by save_pretrained (safe, strict keys), frozen and in eval mode."""
        return load_pretrained(cls, folder)


class TargetProbability(nn.Module):
    """A variant classifier's probability of one data set, (N,), shaped like an assessor's scores: the judge of
    a direction toward that data set, or (as the ``variant_classifier`` assessor) its training signal."""

    score_range = (0.0, 1.0)

    def __init__(self, judge: VariantClassifier, target: str):
        super().__init__()
        if target not in judge.labels:
            raise UnknownNameError(f"unknown data set {target!r}; this variant classifier knows {', '.join(judge.labels)}.")
        self.judge, self.index = judge, judge.labels.index(target)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (N, 3, H, W) -> p(target | x), (N,)."""
        return self.judge(images).softmax(1)[:, self.index]


def train_variant_classifier(data: LabelledImages, cfg: dict[str, Any], folder: Path) -> VariantClassifier:
    """Cross-entropy training on real labelled images; checkpointed in and saved to ``folder``."""
    torch.manual_seed(int(cfg["seed"]))
    model = VariantClassifier(data.names, resolution=data.images.shape[-1], width=int(cfg.get("width", 16)))
    batch_size = int(cfg["batch_size"])

    def loss(gen: torch.Generator) -> dict[str, torch.Tensor]:
        images, labels = data.batch(random_rows(len(data), batch_size, gen))
        return {"loss": F.cross_entropy(model(images), labels)}

    optimise("variant classifier", model, loss, cfg, folder / "checkpoint.pt", {"labels": data.names, "train": cfg})
    model.save_pretrained(folder)
    return model
