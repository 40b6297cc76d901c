"""The embedded shapes generator: the decoder of a class-conditional σ-VAE sampled through per-class Gaussians.

G(z, y) = decoder(μ_y + L_y·z, y) with z ~ N(0, I): μ_y and L_y (Cholesky factor of Σ_y) are fitted to the
encoder means of real images of class y, so a standard-normal z lands where real images of that class encode.
Trained by scripts/train_shapes_generator.py; the weights ship in ganalyze/weights/shapes_generator/.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from torch import nn

from ganalyze.generators.base import Generator
from ganalyze.pretrained import load_pretrained, save_pretrained

SHIPPED_FOLDER = Path(__file__).resolve().parent.parent / "weights" / "shapes_generator"


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


class ShapesGenerator(Generator):
    """The embedded class-conditional generator of the shapes world: G(z, y) = decoder(μ_y + L_y·z, y)."""

    def __init__(self, dim_z: int = 24, num_classes: int = 6, resolution: int = 32, width: int = 24, embed_dim: int = 16):
        super().__init__()
        self.dim_z, self.num_classes, self.resolution = dim_z, num_classes, resolution
        self.config = {"dim_z": dim_z, "num_classes": num_classes, "resolution": resolution,
                       "width": width, "embed_dim": embed_dim}
        self.decoder = ShapesDecoder(dim_z, num_classes, resolution, width, embed_dim)
        self.register_buffer("latent_mean", torch.zeros(num_classes, dim_z))
        self.register_buffer("latent_chol", torch.eye(dim_z).repeat(num_classes, 1, 1))

    def latent_code(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Map standard-normal z to the decoder's code w = μ_y + L_y·z of the class-y Gaussian."""
        if z.dim() != 2 or z.shape[1] != self.dim_z:
            raise ValueError(f"z must have shape (n, {self.dim_z}), got {tuple(z.shape)}")
        if y.shape != z.shape[:1] or y.dtype != torch.long:
            raise ValueError(f"y must be a LongTensor of shape ({len(z)},), got {y.dtype} {tuple(y.shape)}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"class ids must lie in [0, {self.num_classes}), got {y.unique().tolist()}")
        return self.latent_mean[y] + torch.einsum("nij,nj->ni", self.latent_chol[y], z)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latents z (n, dim_z) and class ids y (n,) -> images (n, 3, resolution, resolution) in [0, 1]."""
        return self.decoder(self.latent_code(z, y), y)

    @torch.no_grad()
    def fit_latent_prior(self, codes: torch.Tensor, classes: torch.Tensor, jitter: float = 1e-4) -> None:
        """Set μ_y and L_y to the mean and Cholesky factor of the covariance of ``codes`` of each class y."""
        for c in range(self.num_classes):
            w = codes[classes == c].double()
            if len(w) <= self.dim_z:
                raise ValueError(f"class {c} needs more than {self.dim_z} codes to fit a covariance, got {len(w)}")
            cov = torch.cov(w.T) + jitter * torch.eye(self.dim_z, dtype=torch.double)
            self.latent_mean[c] = w.mean(0).float()
            self.latent_chol[c] = torch.linalg.cholesky(cov).float()

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write config.json and model.pt (decoder + fitted Gaussians) to ``folder``."""
        return save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "ShapesGenerator":
        """Load a frozen eval-mode generator from ``folder`` (None: the weights shipped with the package)."""
        return load_pretrained(cls, SHIPPED_FOLDER if folder is None else folder)
