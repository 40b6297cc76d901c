"""Dataset likeness: how much an image looks like data set y*, scored by the dataset-projection model.

score(x) = log p(y* | x) = log p(E(x) | y*) - log Σ_y p(E(x) | y), Bayes with a uniform prior over the data
sets, where p(h | y) is the exact class-conditional likelihood of the conditional flow on the autoencoder's
code h = E(x). Differentiable end to end (resize -> encoder -> flow), so a GANalyze direction trained on it
moves images toward data set y*. The score is at most 0 (certainly y*).

``output="probability"`` scores p(y* | x) in [0, 1] instead. Why it exists: the flow's likelihood ratios
span tens to hundreds of nats (held-out real warm images score log p(cool | x) ≈ -46 nats), so the
GANalyze target log p(y* | x0) + α is unbounded below and a walk trained on it keeps lowering the score
past every real image, into images no data set holds (white backgrounds, vanishing objects), where the
ratio means nothing. The probability is bounded on both sides: with α in [-1, 1] the targets run from
"surely not y*" to "surely y*" and stop there (README, "Dataset projection").
"""

from __future__ import annotations

import os

import torch

from ganalyze.errors import ConfigError
from ganalyze.projection.model import ProjectionModel

from assessors.base import Assessor, check_images
from assessors.registry import register_assessor

OUTPUTS = {"log_probability": (float("-inf"), 0.0), "probability": (0.0, 1.0)}  # output -> score range


@register_assessor("dataset_likeness")
class DatasetLikeness(Assessor):
    """log p(target | x), or p(target | x) with ``output="probability"``, under a trained projection model
    (default: the weights shipped with the package)."""

    def __init__(self, target: str, weights: str | os.PathLike | None = None, output: str = "log_probability"):
        super().__init__()
        if output not in OUTPUTS:
            raise ConfigError(f"dataset_likeness output={output!r} is not one of {', '.join(OUTPUTS)}: "
                              "log_probability scores log p(target | x) <= 0, probability scores p(target | x).")
        self.model = ProjectionModel.from_pretrained(weights)
        self.target, self.output, self.score_range = target, output, OUTPUTS[output]
        self.target_index = self.model.flow.label_index(target)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (N, 3, H, W) -> log p(target | x) or p(target | x), shape (N,)."""
        check_images(images, "dataset_likeness")
        log_p = self.model.log_posterior(images)[:, self.target_index]
        return log_p.exp() if self.output == "probability" else log_p
