"""The GANalyze transformer: T(z, α) = z + α·θ, one direction per slider."""

from __future__ import annotations

import torch
from torch import nn

from ganalyze.transformers.base import Transformer, alpha_matrix, preserve_norm


class LinearTransformer(Transformer):
    """z' = z + α θ with θ of shape (alpha_dim, dim_z); optionally each z' rescaled to its own ‖z‖."""

    kind = "linear"

    def __init__(self, dim_z: int, alpha_dim: int = 1, preserve_norm: bool = False, init_std: float = 0.01):
        super().__init__()
        if dim_z <= 0 or alpha_dim <= 0:
            raise ValueError(f"dim_z and alpha_dim must be positive, got {dim_z} and {alpha_dim}")
        self.dim_z, self.alpha_dim, self.preserve_norm = dim_z, alpha_dim, preserve_norm
        self.config = {"dim_z": dim_z, "alpha_dim": alpha_dim, "preserve_norm": preserve_norm, "init_std": init_std}
        self.theta = nn.Parameter(torch.randn(alpha_dim, dim_z) * init_std)

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Move each latent by α·θ (α (N,) or (N, alpha_dim)); ``y`` is unused (class-agnostic)."""
        z_new = z + alpha_matrix(alpha, len(z), self.alpha_dim) @ self.theta
        return preserve_norm(z_new, z) if self.preserve_norm else z_new

    def random_like(self, z: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> "LinearTransformer":
        """The same transformer with random directions of the same norms as θ's rows."""
        return self.with_random("theta", generator)
