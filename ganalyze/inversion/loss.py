"""The default inversion loss: pixel MSE plus a multi-scale image-gradient term, needing no downloaded network.

The gradient term compares finite differences at full, half and quarter resolution, so edges and outlines
(where the pixel MSE of a thin misplaced border is small) weigh in, as a perceptual loss would make them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def image_gradients(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical finite differences of (n, C, H, W) images."""
    return images[..., :, 1:] - images[..., :, :-1], images[..., 1:, :] - images[..., :-1, :]


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, gradient_weight: float = 1.0,
                        scales: int = 3) -> torch.Tensor:
    """Per-image loss (n,): pixel MSE + ``gradient_weight`` × the mean squared gradient difference over ``scales``."""
    loss = (output - target).pow(2).flatten(1).mean(1)
    if gradient_weight == 0:
        return loss
    for scale in range(scales):
        if min(output.shape[-2:]) < 2:
            break
        for a, b in zip(image_gradients(output), image_gradients(target)):
            loss = loss + gradient_weight / scales * (a - b).pow(2).flatten(1).mean(1)
        output, target = F.avg_pool2d(output, 2), F.avg_pool2d(target, 2)
    return loss


def psnr(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image (n,) of images in [0, 1]."""
    mse = (output.float() - target.float()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-12))
