"""The published GANalyze PyTorch training step (pytorch/train_pytorch.py), re-created for the benchmark only.

It keeps the reference's costs on purpose so that ``ganalyze-bench`` compares against the real thing on
the same models: a batch of 4, the target pass with autograd on, the ten-crop built image by image and
crop by crop into a CPU tensor, parameters frozen by a loop over them, the direction rescaled by the norm
of the whole batch, α drawn and broadcast through NumPy, the loss written to a file and read back to the
host every step. Never train with it: ``ganalyze.training`` is the loop to use.
"""

from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from assessors.base import Assessor
from assessors.base import resize as assessor_resize
from assessors.caffenet import CROP, to_caffe_bgr
from assessors.memnet import INPUT_SIZE, MEAN_PREDICTION, MEAN_TARGET, RESCALE, MemNet
from ganalyze.generators.base import Generator

REFERENCE_BATCH = 4  # hard-coded in the reference loop
REFERENCE_LR = 2e-4


def freeze_like_reference(generator: nn.Module, assessor: nn.Module, device: torch.device) -> None:
    """Switch off gradients parameter by parameter and set eval mode, as the reference's two set-up loops do."""
    for p in generator.parameters():
        p.requires_grad = False
    generator.eval()
    generator.to(device)
    for p in assessor.parameters():  # the reference calls eval() and to() inside this loop, once per parameter
        p.requires_grad = False
        assessor.eval()
        assessor.to(device)


def ten_crop_loop(images_hwc: torch.Tensor, crop: int) -> torch.Tensor:
    """(N, S, S, 3) -> (N, 10, 3, crop, crop) on the CPU, one image and one crop at a time, as the reference does.

    Corners, then the centre at offset (S - crop) // 2 + 1 (the reference's off-by-one), each followed
    five slots later by its mirror. Gradients reach the images through the in-place copies.
    """
    n, size = images_hwc.shape[0], images_hwc.shape[1]
    crops = torch.zeros(n, 10, 3, crop, crop)  # allocated on the CPU whatever the images' device
    offsets = (0, size - crop)
    centre = math.floor(offsets[1] / 2) + 1
    for k in range(n):
        image = images_hwc[k]
        slot = 0
        for top in offsets:
            for left in offsets:
                crops[k, slot] = image[top:top + crop, left:left + crop].permute(2, 0, 1)
                crops[k, slot + 5] = torch.flip(crops[k, slot], [2])
                slot += 1
        crops[k, 4] = image[centre:centre + crop, centre:centre + crop].permute(2, 0, 1)
        crops[k, 9] = torch.flip(crops[k, 4], [2])
    return crops


def memnet_scores_reference(memnet: MemNet, images: torch.Tensor) -> torch.Tensor:
    """MemNet scores of images in [0, 1] through the reference's pipeline: CPU ten-crop loop, crops copied back."""
    device = images.device
    prepared = assessor_resize(to_caffe_bgr(images), INPUT_SIZE) - memnet.mean_image
    crops = ten_crop_loop(prepared.permute(0, 2, 3, 1), CROP)
    crops = torch.stack([torch.stack([c for c in per_image]) for per_image in crops])  # the reference's per-crop loop
    crops = crops.view(-1, *crops.shape[-3:]).to(device)
    raw = memnet.net(crops).to(device).float().view(-1, 10).mean(1)
    return ((raw - MEAN_PREDICTION) * RESCALE + MEAN_TARGET).clamp(0.0, 1.0)


def reference_scorer(assessor: Assessor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The assessor as the reference runs it: MemNet through the CPU ten-crop loop, any other assessor as is."""
    if isinstance(assessor, MemNet):
        return lambda images: memnet_scores_reference(assessor, images)
    return assessor


class OneDirectionReference(nn.Module):
    """The reference transformer: θ ~ N(0, I) of shape (1, dim_z); z' = ‖Z‖·(z + αθ)/‖Z + αθ‖ over the whole batch."""

    def __init__(self, dim_z: int, seed: int = 0):
        super().__init__()
        self.w = nn.Parameter(torch.randn(1, dim_z, generator=torch.Generator().manual_seed(seed)))

    def transform(self, z: torch.Tensor, step_sizes: torch.Tensor) -> torch.Tensor:
        """Move every latent by its α times θ, then rescale by batch norms (the reference's defect, kept)."""
        moved = z + step_sizes * self.w
        return z.norm() * moved / moved.norm()


class ReferenceStep:
    """One optimisation step of the published loop on given (z, y, α), on our Generator and Assessor modules."""

    def __init__(self, generator: Generator, assessor: Assessor, device: torch.device | str = "cpu",
                 loss_file: str = os.devnull, seed: int = 0):
        self.device = torch.device(device)
        freeze_like_reference(generator, assessor, self.device)
        self.generator, self.score = generator, reference_scorer(assessor)
        self.transformation = OneDirectionReference(generator.dim_z, seed).to(self.device)
        self.optimizer = torch.optim.Adam(self.transformation.parameters(), lr=REFERENCE_LR)
        self.loss_file, self.loss_sum, self.count = loss_file, 0.0, 0

    def __call__(self, z: torch.Tensor, y: torch.Tensor, alpha: np.ndarray) -> float:
        """Run the step on latents z, class ids y and step sizes α (a NumPy array, as the reference draws it)."""
        self.optimizer.zero_grad()
        n, dim_z = z.shape
        z, y = z.float().to(self.device), y.to(self.device)
        broadcast = torch.from_numpy(np.repeat(alpha, dim_z).reshape([n, dim_z])).type(torch.FloatTensor).to(self.device)
        # Target pass: autograd stays on, as in the reference.
        target = self.score(self.generator(z, y)).to(self.device).float() + torch.from_numpy(alpha).to(self.device).float()
        z_new = self.transformation.transform(z, broadcast)
        current = self.score(self.generator(z_new, y)).to(self.device).float()
        loss = F.mse_loss(current, target)
        with open(self.loss_file, "a") as handle:  # the reference appends two lines per step, formatting the tensor
            handle.write(f"{self.count},mse_loss,{loss}\n{self.count},overall_loss,{loss}\n")
        loss.backward()
        self.optimizer.step()
        value = loss.item()  # the reference's running-average meter reads the loss back every step
        self.loss_sum, self.count = self.loss_sum + value * n, self.count + n
        return value
