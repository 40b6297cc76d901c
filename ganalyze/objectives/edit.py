"""The edit objective of steerability walks: G(T(z, α)) should look like edit(G(z), α).

The target is the edited image and its validity mask, computed under no_grad; the loss is the L2
distance over valid pixels (default) or, given a local feature network, a masked perceptual distance
between unit-normalised feature maps (LPIPS-style, without learned weights).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganalyze.edits import get_edit
from ganalyze.errors import ConfigError, WeightsError
from ganalyze.objectives.base import Objective


@dataclass
class EditTarget:
    """What a generated image x1 should match: the edited x0, and where that edit is defined."""

    images: torch.Tensor
    mask: torch.Tensor


def masked_l2(x1: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the valid pixels (mask (N, 1, H, W) of 0/1) of all channels."""
    weight = mask.expand_as(x1)
    return ((x1 - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)


def masked_feature_distance(
    x1: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, features: nn.Module
) -> torch.Tensor:
    """Squared distance of channel-normalised feature maps, averaged over valid feature positions.

    Pixels outside the mask are replaced by the generated ones in the target, so invalid regions
    cannot pull; the mask is pooled to the feature grid and only fully valid cells count.
    """
    filled = target * mask + x1.detach() * (1 - mask)
    f1, f0 = features(x1), features(filled)
    f1 = f1 / (f1.norm(dim=1, keepdim=True) + 1e-8)
    f0 = f0 / (f0.norm(dim=1, keepdim=True) + 1e-8)
    cell_valid = (-F.adaptive_max_pool2d(-mask, f1.shape[-2:]) > 0.5).to(f1.dtype)
    per_cell = ((f1 - f0) ** 2).sum(dim=1, keepdim=True)
    return (per_cell * cell_valid).sum() / cell_valid.sum().clamp_min(1.0)


class ImageNetFeatures(nn.Module):
    """Maps images in [0, 1] to a feature map of a local network after ImageNet normalisation."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalise and run the body."""
        return self.body((images - self.mean) / self.std)


def vgg16_features(weights: str | os.PathLike, layers: int = 16) -> ImageNetFeatures:
    """torchvision VGG16's first ``layers`` feature layers (16: up to relu3_3) with weights from a local file.

    ``weights`` is a state dict of torchvision's ``vgg16`` (e.g. vgg16-397923af.pth from torchvision's
    model zoo, downloaded by the user); only its ``features.*`` entries of those layers are used.
    """
    from torchvision.models.vgg import cfgs, make_layers

    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise WeightsError(
            f"perceptual distance: no VGG16 weights at {weights}; pass the path of torchvision's vgg16 state dict "
            f"(vgg16-397923af.pth) or drop objective.features to use the masked L2 distance."
        ) from err
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise WeightsError(f"perceptual distance: {weights} is not a readable state dict ({err}).") from err
    if not isinstance(state, dict):
        raise WeightsError(f"perceptual distance: {weights} must hold a state dict, got {type(state).__name__}.")
    with torch.device("meta"):  # built empty: the weights come from the file
        body = make_layers(cfgs["D"])[:layers]  # VGG16's convolutional part only, no classifier
    feature_state = {
        k[len("features."):]: v for k, v in state.items()
        if k.startswith("features.") and int(k.split(".")[1]) < layers
    }
    try:
        body.load_state_dict(feature_state, strict=True, assign=True)
    except RuntimeError as err:
        raise WeightsError(f"perceptual distance: {weights} does not hold torchvision vgg16 features ({err}).") from err
    return ImageNetFeatures(body)


class EditObjective(Objective):
    """Target = edit(x0, α) with its validity mask (no grad); loss = masked L2 or masked feature distance.

    ``alpha_dim`` tells the training loop how many sliders α has per sample (3 for colour).
    """

    def __init__(self, edit: str, features: nn.Module | None = None):
        super().__init__()
        self.edit = get_edit(edit)
        self.alpha_dim = self.edit.alpha_dim
        self.features = None if features is None else features.eval().requires_grad_(False)

    @torch.no_grad()
    def target(self, x0: torch.Tensor, alpha: torch.Tensor) -> EditTarget:
        """The edited images and their validity mask."""
        images, mask = self.edit.apply(x0, alpha)
        return EditTarget(images, mask)

    def loss(self, x1: torch.Tensor, target: EditTarget) -> torch.Tensor:
        """Distance between the generated images and the edited ones over the valid region."""
        if x1.shape != target.images.shape:
            raise ConfigError(
                f"generated images {tuple(x1.shape)} and edit targets {tuple(target.images.shape)} differ in shape."
            )
        if self.features is None:
            return masked_l2(x1, target.images, target.mask)
        return masked_feature_distance(x1, target.images, target.mask, self.features)
