"""The inverter role: images -> (z, y) for a generator, so a real image can be walked along a trained direction.

Per image: candidate classes (given, the classifier's, or its top-k), the encoder's z as a first start where an
encoder fits the generator, random starts besides, Adam on z (optimise.py), and the best (class, z) by loss.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from ganalyze.checks import is_whole
from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator
from ganalyze.inversion.classes import candidate_classes, default_classifier, given_classes
from ganalyze.inversion.encoder import encoder_for
from ganalyze.inversion.optimise import OptimiseSettings, optimise_latents


@dataclass
class Inversion:
    """Latents z (n, dim_z), class ids y (n,), G(z, y) (n, 3, R, R), the final loss (n,), and per image the wall
    seconds and the CPU seconds of this process (with one thread: the time on one core, whatever the load)."""

    z: torch.Tensor
    y: torch.Tensor
    reconstruction: torch.Tensor
    loss: torch.Tensor
    seconds_per_image: float
    cpu_seconds_per_image: float


class Inverter:
    """Invert images into a generator: encoder start (``encoder``: auto, null or a folder), optimisation, class choice."""

    def __init__(self, steps: int = 50, lr: float = 0.05, starts: int = 1, gradient_weight: float = 1.0,
                 class_choice: str = "classifier", top_k: int = 3, encoder: str | None = "auto", seed: int = 0,
                 batch_size: int = 50):
        if not is_whole(batch_size) or batch_size < 1:
            raise ConfigError(f"inverter.batch_size={batch_size} must be a whole number >= 1.")
        self.settings = OptimiseSettings(steps=steps, lr=lr, starts=starts, gradient_weight=gradient_weight, seed=seed)
        self.class_choice, self.top_k, self.encoder, self.batch_size = class_choice, top_k, encoder, int(batch_size)

    def __call__(self, generator: Generator, images: torch.Tensor, classes: Sequence[int] | torch.Tensor | None = None,
                 classifier: nn.Module | None | str = "auto") -> Inversion:
        """Invert (n, 3, R, R) images in [0, 1] at the generator's resolution; ``classes`` fixes their classes."""
        if images.dim() != 4 or images.shape[1] != 3 or images.shape[-1] != generator.resolution \
                or images.shape[-2] != generator.resolution:
            raise ConfigError(f"images to invert must be (n, 3, {generator.resolution}, {generator.resolution}) in "
                              f"[0, 1] for this generator, got {tuple(images.shape)}; load them with "
                              "ganalyze.inversion.images.load_images.")
        device = next(generator.parameters()).device
        images = images.to(device)
        encoder = encoder_for(generator, self.encoder)
        encoder = encoder.to(device) if encoder is not None else None
        if classes is not None:
            candidates = given_classes(classes, len(images), generator.num_classes).to(device)
        else:
            model = default_classifier(generator) if isinstance(classifier, str) else classifier
            candidates = candidate_classes(generator, images, self.class_choice, self.top_k, model)
        start, cpu_start = time.perf_counter(), time.process_time()
        parts = [self._invert_batch(generator, images[i:i + self.batch_size], candidates[i:i + self.batch_size], encoder)
                 for i in tqdm(range(0, len(images), self.batch_size), desc="invert", unit="batch", mininterval=1,
                               disable=len(images) <= self.batch_size)]
        seconds = (time.perf_counter() - start) / max(1, len(images))
        cpu_seconds = (time.process_time() - cpu_start) / max(1, len(images))
        z, y, loss = (torch.cat([p[i] for p in parts]) for i in range(3))
        with torch.no_grad():
            reconstruction = torch.cat([generator(zc, yc) for zc, yc in zip(z.split(self.batch_size),
                                                                              y.split(self.batch_size))])
        return Inversion(z, y, reconstruction, loss, seconds, cpu_seconds)

    def _invert_batch(self, generator: Generator, images: torch.Tensor, candidates: torch.Tensor,
                      encoder: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z, y, loss) of one batch: every candidate class optimised at once, the lowest loss kept per image."""
        n, k = candidates.shape
        targets, ys = images.repeat_interleave(k, 0), candidates.reshape(-1)
        with torch.no_grad():
            init = encoder(targets, ys) if encoder is not None else None
        z, loss = optimise_latents(generator, targets, ys, self.settings, init)
        best = loss.view(n, k).argmin(1)
        pick = torch.arange(n, device=best.device) * k + best
        return z[pick], ys[pick], loss[pick]
