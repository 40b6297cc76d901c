"""A direction per class: T(z, α, y) = z + α·θ_y, for edits that look different in each class."""

from __future__ import annotations

import torch
from torch import nn

from ganalyze.transformers.base import Transformer, alpha_matrix, preserve_norm


class ClassDependentTransformer(Transformer):
    """z' = z + α θ_y with θ of shape (num_classes, alpha_dim, dim_z); optional per-sample norm preservation."""

    kind = "class_dependent"
    needs_classes = True

    def __init__(self, dim_z: int, num_classes: int, alpha_dim: int = 1, preserve_norm: bool = False,
                 init_std: float = 0.01):
        super().__init__()
        if dim_z <= 0 or alpha_dim <= 0 or num_classes <= 0:
            raise ValueError(f"dim_z, num_classes and alpha_dim must be positive, got {dim_z}, {num_classes}, {alpha_dim}")
        self.dim_z, self.alpha_dim, self.num_classes, self.preserve_norm = dim_z, alpha_dim, num_classes, preserve_norm
        self.config = {"dim_z": dim_z, "num_classes": num_classes, "alpha_dim": alpha_dim,
                       "preserve_norm": preserve_norm, "init_std": init_std}
        self.theta = nn.Parameter(torch.randn(num_classes, alpha_dim, dim_z) * init_std)

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Move each latent by its class's directions: z + Σ_j α_j θ_{y, j}."""
        step = torch.einsum("nk,nkd->nd", alpha_matrix(alpha, len(z), self.alpha_dim), self.theta[y])
        z_new = z + step
        return preserve_norm(z_new, z) if self.preserve_norm else z_new

    def random_like(self, z: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> "ClassDependentTransformer":
        """The same transformer with random directions, each of the norm of the matching θ_{y, j}."""
        return self.with_random("theta", generator)
