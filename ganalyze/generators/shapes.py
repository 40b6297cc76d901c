"""The embedded shapes generator: the decoder of a class-conditional σ-VAE, sampled through a fitted latent law.

G(z, y) = decoder(μ_y + L_y·f_y(z / z_std), y), z from sample_latents. μ_y, L_y (Cholesky factor of Σ_y) are the
mean and covariance of the encoder means of real images of class y; f_y is a small class-conditional RealNVP
flow trained on those standardised codes (a two-stage VAE), so that z lands where real images of class y encode
rather than in the holes a single Gaussian leaves between them. With flow_layers = 0 the flow is the identity
and the law is the per-class Gaussian. Trained by scripts/train_shapes_generator.py; the weights ship in
ganalyze/weights/shapes_generator/.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn

from ganalyze.generators.base import Generator
from ganalyze.generators.broadcast_decoder import BroadcastDecoder
from ganalyze.generators.classes import shape_class_names
from ganalyze.pretrained import load_pretrained, save_pretrained

SHIPPED_FOLDER = Path(__file__).resolve().parent.parent / "weights" / "shapes_generator"


def _truncated_normal_std(bound: float) -> float:
    """Standard deviation of a standard normal truncated to [-bound, bound]."""
    pdf = math.exp(-bound * bound / 2) / math.sqrt(2 * math.pi)
    return math.sqrt(1 - 2 * bound * pdf / math.erf(bound / math.sqrt(2)))


# Generator.sample_latents draws each coordinate from N(0, 1) truncated to [-2, 2] at truncation 1.
TRUNCATED_NORMAL_STD = _truncated_normal_std(2.0)


def _num_stages(resolution: int) -> int:
    """Number of 2× up/down-sampling stages between 4×4 and ``resolution`` (a power of two ≥ 8)."""
    stages = int(round(math.log2(resolution))) - 2
    if stages < 1 or 4 * 2**stages != resolution:
        raise ValueError(f"resolution must be a power of two >= 8 (e.g. 32 or 64), got {resolution}")
    return stages


def _stage_channels(width: int, stages: int) -> list[int]:
    """Channels from the 4×4 stage to full resolution: doubling towards low resolution, capped at 4×width."""
    return [width * min(2 ** (stages - 1 - i), 4) for i in range(stages)] + [width]


class ShapesEncoder(nn.Module):
    """q(w | x, y): strided convolutions down to 4×4, then the class embedding, then mean and log-variance of w."""

    def __init__(self, dim_z: int, num_classes: int, resolution: int = 32, width: int = 24, embed_dim: int = 16):
        super().__init__()
        chans = [3] + _stage_channels(width, _num_stages(resolution))[-2::-1]  # full resolution -> 4x4
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.embed = nn.Embedding(num_classes, embed_dim)
        hidden = 4 * dim_z * 4
        self.head = nn.Sequential(nn.Linear(chans[-1] * 16 + embed_dim, hidden), nn.SiLU(), nn.Linear(hidden, 2 * dim_z))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] and class ids -> (mean, log-variance) of the latent code w."""
        h = torch.cat([self.features(x * 2 - 1), self.embed(y)], dim=1)
        mean, logvar = self.head(h).chunk(2, dim=1)
        return mean, logvar

    @torch.no_grad()
    def posteriors(self, images: torch.Tensor, classes: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Every image's posterior, (n, 2, dim_z): mean and log-variance, encoded in batches (many real images fit
        a latent law or make an IMLE pool without holding every activation at once)."""
        parts = [self(x, y) for x, y in zip(images.split(batch_size), classes.split(batch_size))]
        return torch.stack([torch.cat(part) for part in zip(*parts)], 1)


class ShapesDecoder(nn.Module):
    """p(x | w, y): a linear map to 4×4, then transposed convolutions up to full resolution, sigmoid output."""

    def __init__(self, dim_z: int, num_classes: int, resolution: int = 32, width: int = 24, embed_dim: int = 16):
        super().__init__()
        chans = _stage_channels(width, _num_stages(resolution))
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.stem = nn.Sequential(nn.Linear(dim_z + embed_dim, chans[0] * 16), nn.SiLU())
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.body = nn.Sequential(*layers, nn.Conv2d(chans[-1], 3, 3, padding=1))
        self.base_channels = chans[0]

    def forward(self, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latent codes and class ids -> images in [0, 1], NCHW."""
        h = self.stem(torch.cat([w, self.embed(y)], dim=1)).view(len(w), self.base_channels, 4, 4)
        return torch.sigmoid(self.body(h))


class AffineCoupling(nn.Module):
    """One RealNVP layer: the coordinates outside ``mask`` are scaled and shifted by an MLP of those inside it."""

    def __init__(self, dim: int, num_classes: int, mask: torch.Tensor, hidden: int, embed_dim: int = 8):
        super().__init__()
        self.register_buffer("mask", mask.float())
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = nn.Sequential(nn.Linear(dim + embed_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 2 * dim))
        nn.init.zeros_(self.net[-1].weight)  # starts as the identity map
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-scale (bounded by tanh) and shift for the free coordinates, from the fixed ones and the class."""
        log_scale, shift = self.net(torch.cat([v * self.mask, self.embed(y)], dim=1)).chunk(2, dim=1)
        return torch.tanh(log_scale) * (1 - self.mask), shift * (1 - self.mask)

    def forward(self, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Base -> data direction (sampling)."""
        log_scale, shift = self._scale_shift(v, y)
        return v * log_scale.exp() + shift

    def inverse(self, v: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Data -> base direction, with the log-determinant of its Jacobian (for the likelihood)."""
        log_scale, shift = self._scale_shift(v, y)
        return (v - shift) * (-log_scale).exp(), -log_scale.sum(1)


class LatentFlow(nn.Module):
    """A class-conditional RealNVP f_y: N(0, I) -> the standardised codes of class y; identity when untrained."""

    def __init__(self, dim: int, num_classes: int, layers: int, hidden: int):
        super().__init__()
        index = torch.arange(dim)
        masks = [index % 2 == 0, index % 2 == 1, index < dim // 2, index >= dim // 2]  # alternate which half moves
        self.layers = nn.ModuleList(AffineCoupling(dim, num_classes, masks[i % 4], hidden) for i in range(layers))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Map base samples z to standardised codes."""
        for layer in self.layers:
            z = layer(z, y)
        return z

    def log_prob(self, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Log-density of standardised codes ``u`` of classes ``y`` under the flow (n,)."""
        log_det = torch.zeros(len(u))
        for layer in reversed(self.layers):
            u, step = layer.inverse(u, y)
            log_det = log_det + step
        return -0.5 * (u.pow(2).sum(1) + u.shape[1] * math.log(2 * math.pi)) + log_det


DECODERS = ("upsample", "broadcast")  # transposed convolutions from 4x4 (shipped) | spatial broadcast


class ShapesGenerator(Generator):
    """The embedded class-conditional generator of the shapes world: G(z, y) = decoder(μ_y + L_y·f_y(z / z_std), y).

    ``z_std`` is the spread of the latents fed in: TRUNCATED_NORMAL_STD makes sample_latents' default
    (truncated) draws reach the fitted spread of the codes. ``decoder`` picks the decoder: "upsample" (the
    shipped one) or "broadcast" (BroadcastDecoder: ``decoder_depth`` layers, ``composite`` foreground/background,
    ``frame`` object-centred coordinates, ``fourier`` octaves of their sines, ``image_fourier`` of the image's).
    """

    def __init__(self, dim_z: int = 24, num_classes: int = 6, resolution: int = 32, width: int = 24,
                 embed_dim: int = 16, flow_layers: int = 8, flow_hidden: int = 128, z_std: float = 1.0,
                 decoder: str = "upsample", decoder_depth: int = 4, composite: bool = True, frame: bool = False,
                 fourier: int = 0, image_fourier: int = 0):
        super().__init__()
        if not z_std > 0:
            raise ValueError(f"z_std must be positive, got {z_std}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {sorted(DECODERS)}, got {decoder!r}")
        self.dim_z, self.num_classes, self.resolution, self.z_std = dim_z, num_classes, resolution, z_std
        self.class_names = shape_class_names(num_classes)  # circle, square, ... in the world's order
        self.config = {"dim_z": dim_z, "num_classes": num_classes, "resolution": resolution, "width": width,
                       "embed_dim": embed_dim, "flow_layers": flow_layers, "flow_hidden": flow_hidden, "z_std": z_std,
                       "decoder": decoder, "decoder_depth": decoder_depth, "composite": composite, "frame": frame,
                       "fourier": fourier, "image_fourier": image_fourier}
        self.decoder: nn.Module = (ShapesDecoder(dim_z, num_classes, resolution, width, embed_dim) if decoder == "upsample"
                                   else BroadcastDecoder(dim_z, num_classes, resolution, width, embed_dim, decoder_depth,
                                                         composite, frame, fourier, image_fourier))
        self.flow = LatentFlow(dim_z, num_classes, flow_layers, flow_hidden)
        self.register_buffer("latent_mean", torch.zeros(num_classes, dim_z))
        self.register_buffer("latent_chol", torch.eye(dim_z).repeat(num_classes, 1, 1))

    def latent_code(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Map latents z to the decoder's code w = μ_y + L_y·f_y(z / z_std) of class y."""
        if z.dim() != 2 or z.shape[1] != self.dim_z:
            raise ValueError(f"z must have shape (n, {self.dim_z}), got {tuple(z.shape)}")
        if y.shape != z.shape[:1] or y.dtype != torch.long:
            raise ValueError(f"y must be a LongTensor of shape ({len(z)},), got {y.dtype} {tuple(y.shape)}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"class ids must lie in [0, {self.num_classes}), got {y.unique().tolist()}")
        return self.latent_mean[y] + torch.einsum("nij,nj->ni", self.latent_chol[y], self.flow(z / self.z_std, y))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latents z (n, dim_z) and class ids y (n,) -> images (n, 3, resolution, resolution) in [0, 1]."""
        return self.decoder(self.latent_code(z, y), y)

    @torch.no_grad()
    def fit_latent_gaussians(self, codes: torch.Tensor, classes: torch.Tensor, jitter: float = 1e-4) -> None:
        """Set μ_y and L_y to the mean and Cholesky factor of the covariance of ``codes`` of each class y.

        A class with no codes at all (a world variant without it, e.g. four shapes of six) keeps its prior N(0, I).
        """
        for c in range(self.num_classes):
            w = codes[classes == c].double()
            if len(w) == 0:
                continue
            if len(w) <= self.dim_z:
                raise ValueError(f"class {c} needs more than {self.dim_z} codes to fit a covariance, got {len(w)}")
            cov = torch.cov(w.T) + jitter * torch.eye(self.dim_z, dtype=torch.double)
            self.latent_mean[c] = w.mean(0).float()
            self.latent_chol[c] = torch.linalg.cholesky(cov).float()

    def standardise(self, codes: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """Codes w -> L_y⁻¹(w - μ_y), the flow's data space (inverse of the Gaussian part of latent_code)."""
        centred = (codes - self.latent_mean[classes]).unsqueeze(-1)
        return torch.linalg.solve_triangular(self.latent_chol[classes], centred, upper=False).squeeze(-1)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write config.json and model.pt (decoder, fitted Gaussians, flow) to ``folder``."""
        return save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "ShapesGenerator":
        """Load a frozen eval-mode generator from ``folder`` (None: the weights shipped with the package)."""
        return load_pretrained(cls, SHIPPED_FOLDER if folder is None else folder)
