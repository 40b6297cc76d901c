"""AestheticsNet (Kong et al., ECCV 2016, trained on AADB): photo aesthetics and eleven photographic attributes.

A CaffeNet trunk with the multi-head output of the GANalyze release (layer names as in its state dict):

- attribute heads, one per name in ``ATTRIBUTES``: ``fc8_<name>`` (4096 -> 256, ReLU) then
  ``fc9_<name>`` (256 -> 1);
- the "Aesthetic" head: ``fc8_new`` (4096 -> 512, ReLU), concatenated with the eleven ``fc8_<name>``
  activations, -> ``fc10_Merge`` (3328 -> 128, ReLU) -> ``fc11_score`` (128 -> 1).

Head names (``head=``): "Aesthetic" (the default score) and the attributes "BalancingElement",
"ColorHarmony", "Content", "DoF", "Light", "MotionBlur", "Object", "Repetition", "RuleOfThirds",
"Symmetry", "VividColor". ``score_range`` is AADB's label range, (0, 1) for "Aesthetic" and (-1, 1) for
the attributes (targets are clipped to it; the network output is not). Input: BGR 0-255 resized to 227
(no ten-crop), minus the mean image centre-cropped to 227. Weights are not shipped: the GANalyze authors
published them (``aestheticsnet_state_dict.p``, with the mean image ``mean_AADB_regression_warp256_lore.npy``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ganalyze.errors import ConfigError

from assessors.base import Assessor, check_images, resize
from assessors.caffenet import CROP, CaffeNet, load_mean_image, to_caffe_bgr
from assessors.registry import register_assessor
from assessors.weights import load_pretrained

ATTRIBUTES = (
    "BalancingElement", "ColorHarmony", "Content", "DoF", "Light", "MotionBlur",
    "Object", "Repetition", "RuleOfThirds", "Symmetry", "VividColor",
)
HEADS = ("Aesthetic",) + ATTRIBUTES

WEIGHTS_HELP = (
    "a PyTorch state dict of AestheticsNet with keys conv1..conv5, fc6, fc7, fc8_new, fc8_<attribute>, "
    "fc9_<attribute>, fc10_Merge, fc11_score (.weight/.bias). The GANalyze authors published these weights "
    "with their release (aestheticsnet_state_dict.p, github.com/LoreGoetschalckx/GANalyze); download the file "
    "yourself and pass weights=/path/to/aestheticsnet_state_dict.p as it is (a plain pickle is read without "
    "running code; a torch.save file works too); pretrained=false gives a randomly initialised net for plumbing "
    "tests."
)


class AestheticsNetModel(CaffeNet):
    """CaffeNet with the release's heads: preprocessed 227x227 input -> {head name: (N,)}."""

    def __init__(self) -> None:
        super().__init__()
        self.fc8_new = nn.Linear(4096, 512)
        for name in ATTRIBUTES:
            setattr(self, f"fc8_{name}", nn.Linear(4096, 256))
            setattr(self, f"fc9_{name}", nn.Linear(256, 1))
        self.fc10_Merge = nn.Linear(512 + 256 * len(ATTRIBUTES), 128)
        self.fc11_score = nn.Linear(128, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        fc7 = self.features(x)
        hidden = {name: F.relu(getattr(self, f"fc8_{name}")(fc7)) for name in ATTRIBUTES}
        merged = torch.cat([F.relu(self.fc8_new(fc7))] + [hidden[name] for name in ATTRIBUTES], dim=1)
        heads = {"Aesthetic": self.fc11_score(F.relu(self.fc10_Merge(merged))).squeeze(1)}
        heads.update({name: getattr(self, f"fc9_{name}")(hidden[name]).squeeze(1) for name in ATTRIBUTES})
        return heads


@register_assessor("aestheticsnet")
class AestheticsNet(Assessor):
    """Photo aesthetics (or one of eleven attributes, ``head=``) of images in [0, 1] of any size."""

    def __init__(
        self,
        weights: str | os.PathLike | None = None,
        mean_image: str | os.PathLike | None = None,
        head: str = "Aesthetic",
        key_map: Mapping[str, str] | None = None,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ConfigError(f"AestheticsNet has no head {head!r}; choose one of {', '.join(HEADS)}.")
        self.head = head
        self.score_range = (0.0, 1.0) if head == "Aesthetic" else (-1.0, 1.0)
        self.net = load_pretrained(AestheticsNetModel, weights, pretrained, "AestheticsNet", WEIGHTS_HELP, key_map)
        self.register_buffer("mean_image", load_mean_image(mean_image, CROP), persistent=False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> mean-subtracted BGR 0-255 at 227x227."""
        check_images(images, "AestheticsNet")
        return resize(to_caffe_bgr(images), CROP) - self.mean_image

    def heads(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every head's output for ``images``, {name: (N,)}."""
        return self.net(self.preprocess(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.heads(images)[self.head]
