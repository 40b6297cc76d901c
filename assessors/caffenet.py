"""The CaffeNet-style trunk shared by MemNet and AestheticsNet, and its Caffe-style input pipeline.

CaffeNet is AlexNet as Caffe ships it: conv1 96x11x11 stride 4; max-pool 3/2 then LRN after conv1
and conv2; conv2, conv4 and conv5 in two groups; fc6 and fc7 of 4096 (dropout is a no-op in eval).
Layers are attributes named ``conv1``..``conv5``, ``fc6``, ``fc7`` so that state dicts of the
published weights (``conv1.weight``, ``conv1.bias``, ...) load without renaming.

Input pipeline (as the Caffe models were trained): RGB in [0, 1] -> BGR in [0, 255] -> resize ->
subtract the mean image (BGR, 0-255) -> crops.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ganalyze.errors import WeightsError

# Per-channel BGR means of ImageNet in 0-255 (Caffe's ilsvrc_2012_mean, rounded): the documented fallback
# when no mean image file is given.
IMAGENET_BGR_MEANS = (104.0, 117.0, 123.0)
CROP = 227


class CaffeNet(nn.Module):
    """conv1..fc7 of CaffeNet; ``features`` maps preprocessed (N, 3, 227, 227) BGR input to fc7 activations."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, kernel_size=11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)
        # Caffe's LRN (local_size 5, alpha 1e-4, beta 0.75, k 1); torch divides alpha by size as Caffe does.
        self.lrn = nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=1.0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """fc7 activations (after ReLU) of preprocessed 227x227 input."""
        x = self.lrn(self.pool(F.relu(self.conv1(x))))
        x = self.lrn(self.pool(F.relu(self.conv2(x))))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = self.pool(F.relu(self.conv5(x)))
        x = F.relu(self.fc6(x.flatten(1)))
        return F.relu(self.fc7(x))


def to_caffe_bgr(images: torch.Tensor) -> torch.Tensor:
    """RGB images in [0, 1] -> BGR in [0, 255], the scale and channel order of Caffe models."""
    return images.flip(1) * 255.0


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The centre ``size`` x ``size`` window, offset ((H - size) // 2, (W - size) // 2) as Caffe's oversample."""
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


def ten_crop(x: torch.Tensor, size: int = CROP) -> torch.Tensor:
    """(N, C, H, W) -> (10N, C, size, size): four corners and centre, then their mirrors; crop-major order.

    One batched tensor on ``x``'s device (slices, no per-image loop), so ``out.view(10, N, ...)`` groups
    the ten crops of each image.
    """
    height, width = x.shape[-2:]
    corners = [(0, 0), (0, width - size), (height - size, 0), (height - size, width - size)]
    five = torch.cat([x[..., i : i + size, j : j + size] for i, j in corners] + [center_crop(x, size)], dim=0)
    return torch.cat([five, five.flip(-1)], dim=0)


def load_mean_image(path: str | os.PathLike | None, size: int) -> torch.Tensor:
    """The BGR mean image (3, size, size) in 0-255: from a .npy or .mat file, else the per-channel fallback.

    Files hold (3, S, S) or (S, S, 3) with S >= size (a .mat under the key ``image_mean`` or its only
    array); a larger mean image is centre-cropped, as the release crops its 256 mean to 227 ([14:241]).
    """
    if path is None:
        return torch.tensor(IMAGENET_BGR_MEANS, dtype=torch.float32).view(3, 1, 1).expand(3, size, size).clone()
    path = Path(path).expanduser()
    mean = torch.from_numpy(_read_mean_array(path)).float()
    if mean.dim() == 3 and mean.shape[-1] == 3 and mean.shape[0] != 3:
        mean = mean.permute(2, 0, 1)
    if mean.dim() != 3 or mean.shape[0] != 3 or min(mean.shape[1:]) < size:
        raise WeightsError(
            f"mean image {path} has shape {tuple(mean.shape)}; expected (3, S, S) or (S, S, 3) in BGR 0-255 "
            f"with S >= {size} (e.g. 256)."
        )
    return center_crop(mean, size).contiguous()


def _read_mean_array(path: Path) -> np.ndarray:
    """The array in a .npy (no pickles) or .mat file; WeightsError when absent or unreadable."""
    if not path.is_file():
        raise WeightsError(f"no mean image file at {path}; give a .npy or .mat file, or mean_image=null for the "
                           f"per-channel ImageNet BGR means {IMAGENET_BGR_MEANS}.")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".mat":
            from scipy.io import loadmat

            arrays = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
            if "image_mean" in arrays:
                return arrays["image_mean"]
            if len(arrays) == 1:
                return next(iter(arrays.values()))
            raise WeightsError(f"mean image {path} holds {sorted(arrays)}; expected a key 'image_mean'.")
    except WeightsError:
        raise
    except Exception as err:
        raise WeightsError(f"mean image {path} could not be read ({type(err).__name__}: {err}).") from err
    raise WeightsError(f"mean image {path} must be a .npy or .mat file, got {path.suffix!r}.")
