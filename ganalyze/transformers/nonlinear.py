"""A nonlinear walk: a small residual MLP applied in n steps of α/n, each step keeping ‖z‖ per sample."""

from __future__ import annotations

import torch
from torch import nn

from ganalyze.errors import ConfigError
from ganalyze.transformers.base import Transformer, alpha_matrix, preserve_norm
from ganalyze.transformers.linear import LinearTransformer


class NonlinearTransformer(Transformer):
    """z_{i+1} = renorm(z_i + (α/n)·f(z_i)), i < n, where f maps z to alpha_dim directions (an MLP).

    The walk of "On the steerability of GANs": it can bend with z where a straight line cannot.
    """

    kind = "nonlinear"

    def __init__(self, dim_z: int, alpha_dim: int = 1, hidden: int = 64, steps: int = 5,
                 init_std: float = 0.01):
        super().__init__()
        for name, value, example in (("dim_z", dim_z, 128), ("alpha_dim", alpha_dim, 1), ("transformer.hidden", hidden, 64),
                                     ("transformer.steps", steps, 5)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r} must be a whole number >= 1 for the nonlinear transformer; "
                                  f"e.g. {name}={example}.")
        if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or not 0 <= init_std < 1e3:
            raise ConfigError(f"transformer.init_std={init_std!r} must be a finite number >= 0; e.g. transformer.init_std=0.01.")
        self.dim_z, self.alpha_dim, self.steps = dim_z, alpha_dim, steps
        self.config = {"dim_z": dim_z, "alpha_dim": alpha_dim, "hidden": hidden, "steps": steps, "init_std": init_std}
        self.net = nn.Sequential(nn.Linear(dim_z, hidden), nn.ReLU(), nn.Linear(hidden, alpha_dim * dim_z))
        with torch.no_grad():  # start close to a small constant direction, like the linear transformer
            self.net[2].weight.mul_(init_std)
            self.net[2].bias.normal_(0.0, init_std)

    def directions(self, z: torch.Tensor) -> torch.Tensor:
        """The local directions f(z), shape (N, alpha_dim, dim_z)."""
        return self.net(z).view(len(z), self.alpha_dim, self.dim_z)

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Walk ``steps`` steps of α/steps along f, renormalising each sample to its starting norm."""
        step_alpha = alpha_matrix(alpha, len(z), self.alpha_dim) / self.steps
        z_i = z
        for _ in range(self.steps):
            z_i = preserve_norm(z_i + torch.einsum("nk,nkd->nd", step_alpha, self.directions(z_i)), z)
        return z_i

    @torch.no_grad()
    def random_like(self, z: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> LinearTransformer:
        """A norm-preserving random linear direction per slider, of the mean norm of f over ``z``."""
        norms = self.directions(z).norm(dim=-1).mean(0)  # (alpha_dim,)
        baseline = LinearTransformer(self.dim_z, self.alpha_dim, preserve_norm=True)
        noise = torch.randn(self.alpha_dim, self.dim_z, generator=generator).to(z)
        baseline.theta.copy_(noise / noise.norm(dim=1, keepdim=True) * norms.unsqueeze(1))
        return baseline.to(z.device).requires_grad_(False)
