"""MemNet (Khosla et al., ICCV 2015): image memorability, the assessor of the GANalyze paper.

A CaffeNet trunk with one output (``fc8``). Images are turned into BGR 0-255, resized to 256x256,
the mean image is subtracted, and the regression output is averaged over a ten-crop of 227
(corners, centre, mirrors; one batched forward of 10N crops). The score is the release's
calibration clip((s - 0.7626) * 2 + 0.65, 0, 1).

Weights are not shipped: the GANalyze authors published MemNet's state dict with their release
(``memnet_state_dict.p``); download it yourself and pass ``weights=/path`` to the file as published: a plain
pickle of tensors is read by ``assessors.safe_pickle`` (no code runs), a ``torch.save`` file with ``weights_only``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn


from assessors.base import Assessor, check_images, resize
from assessors.caffenet import CaffeNet, load_mean_image, ten_crop, to_caffe_bgr
from assessors.registry import register_assessor
from assessors.weights import load_pretrained

INPUT_SIZE = 256
# The release's calibration of the raw regression output into a memorability score.
MEAN_PREDICTION, RESCALE, MEAN_TARGET = 0.7626, 2.0, 0.65

WEIGHTS_HELP = (
    "a PyTorch state dict of MemNet with keys conv1..conv5, fc6, fc7, fc8 (.weight/.bias), fc8 of one output. "
    "The GANalyze authors published these weights with their release (memnet_state_dict.p, "
    "github.com/LoreGoetschalckx/GANalyze); download the file yourself and pass "
    "weights=/path/to/memnet_state_dict.p as it is (a plain pickle is read without running code; a torch.save "
    "file works too); pretrained=false gives a randomly initialised MemNet for plumbing tests."
)


class MemNetModel(CaffeNet):
    """CaffeNet with a one-output ``fc8``: preprocessed 227x227 crops -> raw memorability regression (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc8 = nn.Linear(4096, 1)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.fc8(self.features(crops)).squeeze(1)


@register_assessor("memnet")
class MemNet(Assessor):
    """Memorability in [0, 1] of images in [0, 1] (any size), through the GANalyze release's MemNet."""

    score_range = (0.0, 1.0)

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        mean_image: str | os.PathLike | None = None,
        key_map: Mapping[str, str] | None = None,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        self.net = load_pretrained(MemNetModel, weights, pretrained, "MemNet", WEIGHTS_HELP, key_map)
        self.register_buffer("mean_image", load_mean_image(mean_image, INPUT_SIZE), persistent=False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> mean-subtracted BGR 0-255 ten-crops (10N, 3, 227, 227), crop-major."""
        check_images(images, "MemNet")
        x = resize(to_caffe_bgr(images), INPUT_SIZE) - self.mean_image
        return ten_crop(x)

    def regress(self, images: torch.Tensor) -> torch.Tensor:
        """The raw regression output averaged over the ten crops, (N,)."""
        return self.net(self.preprocess(images)).view(10, images.shape[0]).mean(0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        raw = self.regress(images)
        return ((raw - MEAN_PREDICTION) * RESCALE + MEAN_TARGET).clamp(0.0, 1.0)
