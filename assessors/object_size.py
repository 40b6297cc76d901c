"""Object size for real images: the fraction of the image the object covers, differentiable, class-agnostic.

By default no weights are needed: the soft foreground mask of ``assessors.saliency`` (colour contrast
in CIELAB against the border colours) is averaged. With ``segmentation_weights=/path`` a torchvision
segmentation model (DeepLabV3 by default) is built without download, loaded from that local state dict,
and the score is the mean probability of "not background" (class ``background_class``).
For the shapes world, ``shapes_size`` (a CNN trained on world images) is the better target.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

import torch
from torch import nn

from ganalyze.errors import ConfigError

from assessors.base import Assessor, check_images, resize
from assessors.registry import register_assessor
from assessors.saliency import foreground_mask
from assessors.weights import build_with_state, read_state_dict, rename_keys

SEGMENTATION_ARCHS = (
    "deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large",
    "fcn_resnet50", "fcn_resnet101", "lraspp_mobilenet_v3_large",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@register_assessor("object_size")
class ObjectSize(Assessor):
    """Fraction of the image covered by the foreground object, in [0, 1]."""

    score_range = (0.0, 1.0)

    def __init__(
        self,
        size: int = 128,
        border: float = 0.08,
        threshold: float = 12.0,
        softness: float = 2.0,
        segmentation_weights: str | os.PathLike | None = None,
        segmentation_arch: str = "deeplabv3_resnet50",
        segmentation_size: int = 520,
        num_classes: int = 21,
        background_class: int = 0,
        key_map: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 < border < 0.5 or softness <= 0 or size < 8:
            raise ConfigError(
                f"object_size needs 0 < border < 0.5, softness > 0 and size >= 8; got border={border}, "
                f"softness={softness}, size={size}."
            )
        self.size, self.border, self.threshold, self.softness = size, border, threshold, softness
        self.segmentation_size, self.background_class = segmentation_size, background_class
        self.segmenter = (
            None if segmentation_weights is None
            else load_segmenter(segmentation_weights, segmentation_arch, num_classes, key_map)
        )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, "ObjectSize")
        if self.segmenter is None:
            work = min(self.size, *images.shape[-2:])  # shrink to ``size``, never enlarge (blur inflates the mask)
            mask = foreground_mask(resize(images, work), self.border, threshold=self.threshold, softness=self.softness)
            return mask.mean((1, 2))
        x = (resize(images, self.segmentation_size) - self.mean) / self.std
        probabilities = self.segmenter(x)["out"].softmax(1)
        return 1.0 - probabilities[:, self.background_class].mean((1, 2))


def load_segmenter(
    weights: str | os.PathLike, arch: str, num_classes: int, key_map: Mapping[str, str] | None
) -> nn.Module:
    """Build torchvision's ``arch`` with no download and load the local state dict ``weights`` strictly."""
    from torchvision.models import segmentation

    if arch not in SEGMENTATION_ARCHS:
        raise ConfigError(f"unknown segmentation_arch {arch!r}; choose one of {', '.join(SEGMENTATION_ARCHS)}.")
    expected = (
        f"a state dict of torchvision's {arch} with {num_classes} classes (e.g. the COCO-with-VOC-labels "
        "weights torchvision publishes, downloaded by you)."
    )
    state = rename_keys(read_state_dict(weights, f"object_size segmenter {arch}", expected), key_map)
    aux_loss = any(key.startswith("aux_classifier.") for key in state)
    options = {} if arch.startswith("lraspp") else {"aux_loss": aux_loss}
    build = partial(getattr(segmentation, arch), weights=None, weights_backbone=None, num_classes=num_classes, **options)
    return build_with_state(build, state, f"object_size segmenter {arch}", str(weights))
