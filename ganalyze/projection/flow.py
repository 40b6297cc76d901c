"""A conditional invertible network T(h | y) on autoencoder codes, with an exact log-likelihood.

Blocks of ActNorm -> affine coupling -> fixed permutation, then a label-conditioned affine map whose shift
and log-scale come from a learned embedding of the data-set label: z = (f(h) + b_y) ⊙ exp(s_y) ~ N(0, I),
i.e. a Gaussian N(-b_y, exp(-2 s_y)) per data set in the space of a shared flow f.

Why the label enters only at the end by default: maximum likelihood alone does not tie T(· | A) to
T(· | B), and a flow whose couplings all see the label learned unrelated maps per data set on the shapes
world (projections kept the new palette but lost shape and position). With a shared f, what the data sets
share (shape, place, size) must sit in coordinates whose Gaussians are the same for every label, so a
projection T⁻¹(T(h | A) | B) moves only the coordinates that tell the data sets apart.
``label_dims=k`` goes further: only k coordinates of that space have label-dependent Gaussians, the rest are
N(0, 1) for every data set, so a projection changes k coordinates and keeps the others exactly.
``condition_couplings=True`` also feeds the label to every coupling (more expressive, content less tied).
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from ganalyze.errors import UnknownNameError
from ganalyze.pretrained import load_pretrained, save_pretrained

LOG_2PI = math.log(2 * math.pi)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) per row, in nats."""
    return -0.5 * (z.pow(2).sum(1) + z.shape[1] * LOG_2PI)


class ActNorm(nn.Module):
    """Per-dimension affine map initialised from the first training batch to zero mean and unit variance."""

    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x -> ((x + loc) · exp(log_scale), log|det|) per sample."""
        if self.training and not bool(self.initialized):
            with torch.no_grad():
                self.loc.copy_(-x.mean(0))
                self.log_scale.copy_(-torch.log(x.std(0) + 1e-6))
                self.initialized.fill_(True)
        y = (x + self.loc) * self.log_scale.exp()
        return y, self.log_scale.sum().expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Exact inverse of forward."""
        return y * (-self.log_scale).exp() - self.loc


class AffineCoupling(nn.Module):
    """Keeps the first half, scales and shifts the second half by functions of (first half, label embedding)."""

    def __init__(self, dim: int, embed_dim: int, hidden: int, depth: int, clamp: float):
        super().__init__()
        self.split, self.clamp = dim // 2, clamp
        layers: list[nn.Module] = []
        width = self.split + embed_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        last = nn.Linear(width, 2 * (dim - self.split))
        nn.init.zeros_(last.weight)  # each block starts as the identity
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def _scale_shift(self, kept: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-scale (soft-clamped to ±clamp, so exp never overflows) and shift for the transformed half."""
        raw_s, t = self.net(torch.cat([kept, cond], dim=1)).chunk(2, dim=1)
        return self.clamp * torch.tanh(raw_s / self.clamp), t

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x -> (y, log|det|) per sample."""
        kept, moved = x[:, : self.split], x[:, self.split :]
        s, t = self._scale_shift(kept, cond)
        return torch.cat([kept, moved * s.exp() + t], dim=1), s.sum(1)

    def inverse(self, y: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Exact inverse of forward."""
        kept, moved = y[:, : self.split], y[:, self.split :]
        s, t = self._scale_shift(kept, cond)
        return torch.cat([kept, (moved - t) * (-s).exp()], dim=1)


class LabelAffine(nn.Module):
    """On the first ``dims`` coordinates z = (u + shift_y) ⊙ exp(log_scale_y), both from the label embedding;
    the other coordinates pass unchanged (the same standard normal for every label). Starts as the identity."""

    def __init__(self, dims: int, embed_dim: int):
        super().__init__()
        self.dims = dims
        self.net = nn.Linear(embed_dim, 2 * dims)
        nn.init.zeros_(self.net.weight)
        nn.init.zeros_(self.net.bias)

    def forward(self, u: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u -> (z, log|det|) per sample."""
        shift, log_scale = self.net(cond).chunk(2, dim=1)
        labelled = (u[:, : self.dims] + shift) * log_scale.exp()
        return torch.cat([labelled, u[:, self.dims :]], dim=1), log_scale.sum(1)

    def inverse(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Exact inverse of forward."""
        shift, log_scale = self.net(cond).chunk(2, dim=1)
        return torch.cat([z[:, : self.dims] * (-log_scale).exp() - shift, z[:, self.dims :]], dim=1)


class ConditionalFlow(nn.Module):
    """T(h | y): codes (N, dim) and data-set ids (N,) -> z (N, dim) ~ N(0, I) with exact log p(h | y)."""

    def __init__(
        self,
        dim: int,
        labels: list[str],
        blocks: int = 12,
        hidden: int = 256,
        depth: int = 2,
        embed_dim: int = 32,
        clamp: float = 2.0,
        condition_couplings: bool = False,
        label_dims: int | None = None,
        seed: int = 0,
    ):
        super().__init__()
        if dim < 2 or not labels:
            raise ValueError(f"a flow needs dim >= 2 and at least one label, got dim={dim}, labels={labels}")
        self.config = {
            "dim": dim, "labels": list(labels), "blocks": blocks, "hidden": hidden,
            "depth": depth, "embed_dim": embed_dim, "clamp": clamp, "condition_couplings": condition_couplings,
            "label_dims": label_dims, "seed": seed,
        }
        label_dims = dim if label_dims is None else label_dims
        if not 1 <= label_dims <= dim:
            raise ValueError(f"label_dims must be in [1, dim={dim}] (or None for all), got {label_dims}")
        self.dim, self.labels, self.condition_couplings = dim, list(labels), condition_couplings
        self.embedding = nn.Embedding(len(labels), embed_dim)
        self.norms = nn.ModuleList(ActNorm(dim) for _ in range(blocks))
        coupling_cond = embed_dim if condition_couplings else 0
        self.couplings = nn.ModuleList(AffineCoupling(dim, coupling_cond, hidden, depth, clamp) for _ in range(blocks))
        self.head = LabelAffine(label_dims, embed_dim)
        gen = torch.Generator().manual_seed(seed)
        for i in range(blocks):  # fixed permutations, stored so a checkpoint reproduces them exactly
            self.register_buffer(f"perm{i}", torch.randperm(dim, generator=gen))

    def _perm(self, i: int) -> torch.Tensor:
        return getattr(self, f"perm{i}")

    def label_index(self, name: str) -> int:
        """The id of data set ``name``, or an UnknownNameError listing the known ones."""
        if name not in self.labels:
            raise UnknownNameError(f"unknown data set {name!r}; this projection model knows {', '.join(self.labels)}.")
        return self.labels.index(name)

    def _coupling_cond(self, cond: torch.Tensor) -> torch.Tensor:
        """What the couplings see of the label: its embedding, or nothing (an (N, 0) tensor)."""
        return cond if self.condition_couplings else cond[:, :0]

    def _body(self, h: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The blocks: h -> (u, log|det|)."""
        logdet = h.new_zeros(h.shape[0])
        for i, (norm, coupling) in enumerate(zip(self.norms, self.couplings)):
            h, ld_norm = norm(h)
            h, ld_coupling = coupling(h, cond)
            h = h[:, self._perm(i)]
            logdet = logdet + ld_norm + ld_coupling
        return h, logdet

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes h and labels y -> (z, log|det ∂z/∂h|) per sample."""
        cond = self.embedding(y)
        u, logdet = self._body(h, self._coupling_cond(cond))
        z, ld_head = self.head(u, cond)
        return z, logdet + ld_head

    def inverse(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z and labels y -> codes h with forward(h, y)[0] == z."""
        cond = self.embedding(y)
        z = self.head.inverse(z, cond)
        coupling_cond = self._coupling_cond(cond)
        for i in reversed(range(len(self.couplings))):
            z = z[:, torch.argsort(self._perm(i))]
            z = self.norms[i].inverse(self.couplings[i].inverse(z, coupling_cond))
        return z

    def log_prob(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Exact log p(h | y) in nats per sample: standard-normal log density of z plus log|det|."""
        z, logdet = self(h, y)
        return standard_normal_log_prob(z) + logdet

    def class_log_likelihoods(self, h: torch.Tensor) -> torch.Tensor:
        """log p(h | y) for every label y: (N, number of labels). One pass of the shared blocks when they are shared."""
        n, k = h.shape[0], len(self.labels)
        if self.condition_couplings:
            y = torch.arange(k, device=h.device).repeat_interleave(n)
            return self.log_prob(h.repeat(k, 1), y).view(k, n).T
        u, logdet = self._body(h, h.new_zeros(n, 0))
        cond = self.embedding(torch.arange(k, device=h.device)).repeat_interleave(n, dim=0)
        z, ld_head = self.head(u.repeat(k, 1), cond)
        return (standard_normal_log_prob(z) + ld_head).view(k, n).T + logdet[:, None]

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """Write config.json and model.pt to ``folder``."""
        save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "ConditionalFlow":
        """Load a folder written by save_pretrained (safe, strict keys), frozen and in eval mode."""
        return load_pretrained(cls, folder)
