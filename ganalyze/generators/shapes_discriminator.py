"""A small class-conditional discriminator for training a shapes decoder adversarially (issue 20's GAN arm).

Spectral-normalised convolutions (Miyato et al. 2018) halve the image down to 4×4; the pooled features give a
realness score plus a projection on the class embedding (Miyato & Koyama 2018), so D judges "a real image of
class y". With the hinge loss this is the usual SN-GAN recipe, small enough to train for minutes on one core.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class ShapesDiscriminator(nn.Module):
    """D(x, y) -> (n,) scores for images in [0, 1] and class ids: higher means "a real image of class y"."""

    def __init__(self, num_classes: int, resolution: int = 32, width: int = 32):
        super().__init__()
        if resolution < 8 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        layers: list[nn.Module] = []
        channels, size = 3, resolution
        while size > 4:  # a 3x3 convolution, then a strided 4x4 one that halves the size and doubles the width
            out = width * resolution // (2 * size)
            layers += [spectral_norm(nn.Conv2d(channels, out, 3, padding=1)), nn.LeakyReLU(0.2),
                       spectral_norm(nn.Conv2d(out, 2 * out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            channels, size = 2 * out, size // 2
        self.body = nn.Sequential(*layers)
        self.score = spectral_norm(nn.Linear(channels, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, channels))

    def forward(self, images: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Realness scores (n,) of images (n, 3, R, R) in [0, 1] asked to be of classes y (n,)."""
        h = self.body(images * 2 - 1).sum(dim=(2, 3))
        return self.score(h).squeeze(1) + (self.embed(y) * h).sum(1)


def hinge_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The hinge loss of D: mean relu(1 - D(real)) + mean relu(1 + D(fake))."""
    return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The hinge loss of G: -mean D(fake)."""
    return -fake_scores.mean()
