"""The Transformer protocol: T(z, α, y) -> z', the edit of a latent that training learns.

α is (N,) for one slider or (N, k) for k sliders (e.g. three colour channels). Each transformer can
save itself as a folder (config.json + model.pt) and build a random baseline of equal norm.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganalyze.pretrained import save_pretrained


def alpha_matrix(alpha: torch.Tensor, n: int, alpha_dim: int) -> torch.Tensor:
    """Return α as an (n, alpha_dim) matrix; accepts (n,) when alpha_dim is 1, and checks the shape."""
    if alpha.dim() == 1 and alpha_dim == 1:
        alpha = alpha.unsqueeze(1)
    if alpha.shape != (n, alpha_dim):
        want = f"({n},) or ({n}, 1)" if alpha_dim == 1 else f"({n}, {alpha_dim})"
        raise ValueError(f"alpha must have shape {want} for {n} latents and {alpha_dim} slider(s), got {tuple(alpha.shape)}")
    return alpha


def preserve_norm(z_new: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Rescale each row of ``z_new`` to the norm of the same row of ``z`` (per sample, not per batch)."""
    return z_new * (z.norm(dim=1, keepdim=True) / z_new.norm(dim=1, keepdim=True).clamp_min(1e-12))


def random_rows_like(rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random directions with the same shape as ``rows`` and, row by row (last dim), the same norms."""
    noise = torch.randn(rows.shape, generator=generator).to(rows)
    unit = noise / noise.norm(dim=-1, keepdim=True)
    return unit * rows.norm(dim=-1, keepdim=True)


class Transformer(nn.Module):
    """Base class: ``forward(z, alpha, y) -> z'``; subclasses define ``config`` and their forward.

    ``kind`` names the subclass in ``config.json`` (see ganalyze.transformers.TRANSFORMERS), so that a
    saved transformer is rebuilt from a fixed list of classes and a file can never import code.
    """

    kind: str
    needs_classes = False  # True: the builder passes the generator's num_classes to the constructor
    dim_z: int
    alpha_dim: int
    config: dict[str, Any]

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def random_like(self, z: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> "Transformer":
        """A random baseline of this transformer with the same step size (see subclasses)."""
        raise NotImplementedError

    def with_random(self, directions: str, generator: torch.Generator) -> "Transformer":
        """A frozen copy of this transformer (same class, config and other parameters) whose parameter
        ``directions`` is replaced, row by row, by random directions of the same norms: the random baseline."""
        baseline = type(self)(**self.config)
        with torch.no_grad():
            baseline.load_state_dict(self.state_dict())
            getattr(baseline, directions).copy_(random_rows_like(getattr(self, directions), generator))
        return baseline.to(getattr(self, directions).device).requires_grad_(False)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write ``config.json`` (with the kind) and ``model.pt`` to ``folder``."""
        return save_pretrained(self, {"kind": self.kind, **self.config}, folder)
