"""Dataset likeness: how much an image looks like data set y*, scored by the dataset-projection model.

score(x) = log p(y* | x) = log p(E(x) | y*) - log Σ_y p(E(x) | y), Bayes with a uniform prior over the data
sets, where p(h | y) is the exact class-conditional likelihood of the conditional flow on the autoencoder's
code h = E(x). Differentiable end to end (resize -> encoder -> flow), so a GANalyze direction trained on it
moves images toward data set y*. The score is at most 0 (certainly y*).
"""

from __future__ import annotations

import os

import torch

from ganalyze.projection.model import ProjectionModel

from assessors.base import Assessor, check_images
from assessors.registry import register_assessor


@register_assessor("dataset_likeness")
class DatasetLikeness(Assessor):
    """log p(target | x) under a trained projection model (default: the weights shipped with the package)."""

    score_range = (float("-inf"), 0.0)

    def __init__(self, target: str, weights: str | os.PathLike | None = None):
        super().__init__()
        self.model = ProjectionModel.from_pretrained(weights)
        self.target = target
        self.target_index = self.model.flow.label_index(target)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (N, 3, H, W) -> log p(target | x), shape (N,)."""
        check_images(images, "dataset_likeness")
        return self.model.log_posterior(images)[:, self.target_index]
