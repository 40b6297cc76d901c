"""Variant classifier: p(y* | x) from a CNN trained on real images to tell the data sets apart.

The discriminative counterpart of ``dataset_likeness``: the same question ("how much does this look like data
set y*?") answered by the evaluation's judge (``ganalyze.projection.variant_classifier``) instead of the flow's
likelihoods. A direction trained on it shows what GANalyze's objective reaches when its training signal is
the judge of the evaluation itself (README, "Dataset projection").
"""

from __future__ import annotations

import os

import torch

from ganalyze.projection.variant_classifier import TargetProbability, VariantClassifier

from assessors.base import check_images
from assessors.registry import register_assessor


@register_assessor("variant_classifier")
class VariantClassifierProbability(TargetProbability):
    """p(target | x) in [0, 1] under a VariantClassifier saved with save_pretrained (e.g. the folders
    scripts/eval_projection.py writes: <out_dir>/variant_classifier_<labels>)."""

    def __init__(self, weights: str | os.PathLike, target: str):
        super().__init__(VariantClassifier.from_pretrained(weights), target)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (N, 3, H, W) -> p(target | x), (N,)."""
        check_images(images, "variant_classifier")
        return super().forward(images)
