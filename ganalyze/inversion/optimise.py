"""Invert by optimisation: Adam on z from several starts, keeping each image's best, z held in the sampling region.

Generator.sample_latents draws each coordinate of z from a normal cut at ±2·truncation, so the walk of a trained
direction starts from where training started; every step clamps z back into that box (a latent outside it
would reconstruct the image from a place the direction never saw).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganalyze.checks import is_finite, is_whole
from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator
from ganalyze.inversion.encoder import LATENT_BOUND
from ganalyze.inversion.loss import reconstruction_loss
from ganalyze.sampling import truncation_of


@dataclass(frozen=True)
class OptimiseSettings:
    """Adam steps and rate, starts per image (an encoder's guess, if any, is the first), the loss's gradient weight."""

    steps: int = 50
    lr: float = 0.05
    starts: int = 1
    gradient_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not is_whole(self.steps) or self.steps < 0:
            raise ConfigError(f"inverter.steps={self.steps} must be a whole number >= 0 (0: the encoder's guess alone).")
        if not is_whole(self.starts) or self.starts < 1:
            raise ConfigError(f"inverter.starts={self.starts} must be a whole number >= 1 (starts per image: the "
                              "encoder's guess where there is one, random draws of sample_latents for the rest).")
        if not (is_finite(self.lr) and self.lr > 0):
            raise ConfigError(f"inverter.lr={self.lr} must be a positive learning rate (e.g. 0.05).")
        if not (is_finite(self.gradient_weight) and self.gradient_weight >= 0):
            raise ConfigError(f"inverter.gradient_weight={self.gradient_weight} must be >= 0 (0: pixel MSE alone).")


def latent_bound(generator: Generator) -> float:
    """Half-width of the box sample_latents draws each coordinate of z from."""
    return LATENT_BOUND * truncation_of(generator)


def starting_points(generator: Generator, n: int, settings: OptimiseSettings, init: torch.Tensor | None,
                    device: torch.device) -> torch.Tensor:
    """(n, starts, dim_z): the given initial z (if any), then draws of sample_latents up to ``settings.starts``."""
    parts = [] if init is None else [init.detach().unsqueeze(1)]
    draws = settings.starts - len(parts)
    if draws > 0:
        z, _ = generator.sample_latents(n * draws, settings.seed, truncation_of(generator))
        parts.append(z.view(n, draws, -1))
    return torch.cat([p.to(device) for p in parts], dim=1)


def optimise_latents(generator: Generator, images: torch.Tensor, y: torch.Tensor, settings: OptimiseSettings,
                     init: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Best z (n, dim_z) per image of class y over all starts after ``settings.steps`` Adam steps, and its loss (n,)."""
    n = len(images)
    starts = starting_points(generator, n, settings, init, images.device)
    k = starts.shape[1]
    bound = latent_bound(generator)
    z = starts.reshape(n * k, -1).clamp(-bound, bound).requires_grad_(True)
    targets, classes = images.repeat_interleave(k, 0), y.repeat_interleave(k)
    optimizer = torch.optim.Adam([z], lr=settings.lr)
    with torch.enable_grad():
        for _ in range(settings.steps):
            loss = reconstruction_loss(generator(z, classes), targets, settings.gradient_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            optimizer.step()
            with torch.no_grad():
                z.clamp_(-bound, bound)
    with torch.no_grad():
        loss = reconstruction_loss(generator(z, classes), targets, settings.gradient_weight).view(n, k)
        best = loss.argmin(1)
        index = torch.arange(n, device=loss.device)
        return z.detach().view(n, k, -1)[index, best], loss[index, best]
