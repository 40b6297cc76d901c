"""Conditional directions (InterFaceGAN): a trained linear direction with its components along other trained
directions removed, so that walking it leaves what those directions change (to first order) alone.

For one condition n₂ (unit): n' = n₁ − (n₁·n₂)n₂. For several, stacked as the rows of C: n' = n₁ − Cᵀx with
(CCᵀ)x = C n₁, the least-squares residual of n₁ on the rows of C (solved, never inverted).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ganalyze.errors import ConfigError
from ganalyze.transformers.base import Transformer, alpha_matrix, preserve_norm, random_rows_like
from ganalyze.transformers.linear import LinearTransformer

LENGTHS = ("projected", "primary_norm")
MAX_CONDITION_NUMBER = 1e10  # a Gram matrix worse than this: the conditions are (nearly) linearly dependent


def project_out(directions: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
    """Rows of ``directions`` (a, d) minus their least-squares fit on the rows of ``conditions`` (k, d).

    Computed in float64 by solving (CCᵀ)X = C Dᵀ; the result is orthogonal to every condition.
    """
    c, n = conditions.double(), directions.double()
    gram = c @ c.T
    if not torch.linalg.cond(gram) < MAX_CONDITION_NUMBER:
        raise ConfigError(f"the {len(c)} condition directions are (nearly) linearly dependent (condition number of "
                          f"their Gram matrix {torch.linalg.cond(gram).item():.3g}); drop the redundant ones.")
    coefficients = torch.linalg.solve(gram, c @ n.T)  # (k, a)
    return (n - coefficients.T @ c).to(directions.dtype)


def conditional_direction(primary: torch.Tensor, conditions: torch.Tensor, length: str = "projected") -> torch.Tensor:
    """The primary's rows (a, d) with the conditions (k, d) projected out; ``length`` keeps the residual's norm
    (``projected``) or rescales each row to the primary row's norm (``primary_norm``)."""
    if length not in LENGTHS:
        raise ConfigError(f"transformer.length={length!r} must be one of {', '.join(LENGTHS)}.")
    if primary.shape[-1] != conditions.shape[-1]:
        raise ConfigError(f"the primary direction has {primary.shape[-1]} latent dimensions but the conditions have "
                          f"{conditions.shape[-1]}: they must come from runs on the same generator.")
    residual = project_out(primary, conditions)
    kept = residual.norm(dim=1) / primary.norm(dim=1).clamp_min(1e-12)
    if (kept < 1e-6).any():
        raise ConfigError("the primary direction lies in the span of the conditions: nothing is left after "
                          "projecting them out; condition on fewer or other directions.")
    if length == "primary_norm":
        residual = residual / residual.norm(dim=1, keepdim=True) * primary.norm(dim=1, keepdim=True)
    return residual


class ConditionalTransformer(Transformer):
    """z' = z + α·P θ, where P projects onto the orthogonal complement of the condition directions (a buffer).

    Built by ``condition_on`` (θ = the conditional direction, so P θ = θ) or, from run folders, by
    ``ConditionalFromRuns``; saved and loaded like any transformer. Training it further (train.steps > 0)
    keeps the walk orthogonal to the conditions.
    """

    kind = "conditional"

    def __init__(self, dim_z: int, num_conditions: int, alpha_dim: int = 1, preserve_norm: bool = False,
                 init_std: float = 0.01):
        super().__init__()
        if dim_z <= 0 or alpha_dim <= 0 or num_conditions <= 0:
            raise ValueError(f"dim_z, num_conditions and alpha_dim must be positive, got {dim_z}, {num_conditions}, "
                             f"{alpha_dim}")
        self.dim_z, self.alpha_dim, self.preserve_norm = dim_z, alpha_dim, preserve_norm
        self.config = {"dim_z": dim_z, "num_conditions": num_conditions, "alpha_dim": alpha_dim,
                       "preserve_norm": preserve_norm, "init_std": init_std}
        self.theta = nn.Parameter(torch.randn(alpha_dim, dim_z) * init_std)
        self.register_buffer("conditions", torch.zeros(num_conditions, dim_z))

    def direction(self) -> torch.Tensor:
        """The directions actually walked, (alpha_dim, dim_z): θ with the conditions projected out."""
        return project_out(self.theta, self.conditions)

    def forward(self, z: torch.Tensor, alpha: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Move each latent by α·Pθ; ``y`` is unused (class-agnostic)."""
        z_new = z + alpha_matrix(alpha, len(z), self.alpha_dim) @ self.direction()
        return preserve_norm(z_new, z) if self.preserve_norm else z_new

    def random_like(self, z: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> Transformer:
        """A linear transformer with random directions of the norms of the walked directions."""
        baseline = LinearTransformer(self.dim_z, self.alpha_dim, self.preserve_norm)
        with torch.no_grad():
            baseline.theta.copy_(random_rows_like(self.direction().detach(), generator))
        return baseline.to(self.theta.device).requires_grad_(False)


def linear_rows(transformer: Transformer, where: str) -> torch.Tensor:
    """The directions (rows, dim_z) a linear or conditional transformer walks; a ConfigError for other kinds."""
    if isinstance(transformer, ConditionalTransformer):
        return transformer.direction().detach()
    if isinstance(transformer, LinearTransformer):
        return transformer.theta.detach()
    raise ConfigError(f"{where} holds a {getattr(transformer, 'kind', type(transformer).__name__)} transformer; a "
                      "conditional direction is built from linear (or conditional) directions only, trained with "
                      "transformer=linear.")


def condition_on(primary: Transformer, conditions: Sequence[Transformer], length: str = "projected") -> ConditionalTransformer:
    """The conditional transformer of ``primary`` given ``conditions`` (each slider of each is one condition row)."""
    if not conditions:
        raise ConfigError("condition_on needs at least one condition direction.")
    rows = linear_rows(primary, "the primary run")
    stacked = torch.cat([linear_rows(c, f"condition {i}").to(rows) for i, c in enumerate(conditions)])
    model = ConditionalTransformer(rows.shape[1], len(stacked), len(rows), bool(getattr(primary, "preserve_norm", False)))
    with torch.no_grad():
        model.conditions.copy_(stacked)
        model.theta.copy_(conditional_direction(rows, stacked, length))
    return model.to(rows.device).requires_grad_(False)


def run_transformer(folder: str | os.PathLike) -> Transformer:
    """The trained transformer of a run folder (its ``transformer/``), or of a transformer folder given directly."""
    from ganalyze.transformers import load_transformer

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; give a run folder that ganalyze-train wrote.")
    return load_transformer(folder / "transformer" if (folder / "transformer").is_dir() else folder)


class ConditionalFromRuns(ConditionalTransformer):
    """The ``transformer=conditional`` option: the conditional direction of the run folder ``primary`` given the
    run folders ``conditions``; it saves (and loads back) as a plain ConditionalTransformer."""

    def __init__(self, dim_z: int, primary: str, conditions: Sequence[str], alpha_dim: int = 1,
                 length: str = "projected", init_std: float = 0.01):
        if not primary or isinstance(conditions, str) or not conditions:
            raise ConfigError(f"transformer=conditional needs transformer.primary=<run folder> and "
                              f"transformer.conditions=[<run folder>, ...]; got primary={primary!r}, "
                              f"conditions={conditions!r}.")
        built = condition_on(run_transformer(primary), [run_transformer(c) for c in conditions], length)
        if (built.dim_z, built.alpha_dim) != (dim_z, alpha_dim):
            raise ConfigError(f"the conditional direction from {primary} has {built.alpha_dim} slider(s) of dimension "
                              f"{built.dim_z}, but this run's generator and objective need {alpha_dim} of {dim_z}: "
                              "use the primary run's generator and objective.")
        super().__init__(dim_z, built.config["num_conditions"], alpha_dim, built.preserve_norm, init_std)
        self.load_state_dict(built.state_dict())
