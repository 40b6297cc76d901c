"""Seeds and samples of training and evaluation, derived so that the two never overlap.

Training step t of a run with seed s draws its latents and α from seeds hashed from (s, stream, t)
into [0, 2**62); the held-out evaluation seeds are 2**62 + i, a fixed set that training never sees.
Every batch depends only on (seed, step), so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

from ganalyze.generators.base import Generator

HELD_OUT_OFFSET = 2**62


def stream_seed(seed: int, stream: str, index: int = 0) -> int:
    """A seed in [0, 2**62) for item ``index`` of a named random stream of run ``seed``."""
    digest = hashlib.blake2b(f"{seed}/{stream}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % HELD_OUT_OFFSET


def held_out_seeds(n: int) -> list[int]:
    """The first ``n`` evaluation seeds (the same for every run, disjoint from all training seeds)."""
    return [HELD_OUT_OFFSET + i for i in range(n)]


def truncation_of(generator: Generator) -> float:
    """The latent truncation a generator samples with (BigGAN's configured one; 1.0 otherwise)."""
    return float(getattr(generator, "truncation", 1.0))


def training_batch(generator: Generator, seed: int, step: int, batch_size: int, alpha_dim: int,
                   alpha_range: tuple[float, float], classes: Sequence[int] | None = None,
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Latents, class ids and α ~ U[a, b] per sample ((N,) for one slider, else (N, alpha_dim)) of a step."""
    z, y = generator.sample_latents(batch_size, stream_seed(seed, "latents", step), truncation_of(generator),
                                    list(classes) if classes is not None else None)
    gen = torch.Generator().manual_seed(stream_seed(seed, "alpha", step))
    low, high = alpha_range
    alpha = low + (high - low) * torch.rand(batch_size, alpha_dim, generator=gen)
    return z, y, alpha.squeeze(1) if alpha_dim == 1 else alpha


def latents_for_seeds(generator: Generator, seeds: Sequence[int], classes: Sequence[int] | None = None,
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """One latent and class id per seed (seed i gives what ``sample_latents(1, i)`` gives)."""
    pairs = [generator.sample_latents(1, s, truncation_of(generator), list(classes) if classes is not None else None)
             for s in seeds]
    return torch.cat([z for z, _ in pairs]), torch.cat([y for _, y in pairs])
