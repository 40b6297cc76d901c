"""The projection autoencoder: images <-> codes shared by all data sets (a spatial map + a global vector).

A variational autoencoder with a light KL term: the KL keeps the codes in a bounded, smooth region, so the
flow trained on them has a well-behaved density and the decoder tolerates codes the flow moves slightly off
the encoded ones. ``encode`` returns the posterior mean (deterministic); training samples the posterior.

Why a narrow map and a global vector: what differs between data sets is often image-wide (a palette, a
brightness), and a projection should change that and keep the layout. With a one-channel map the layout
(where the object is, its outline) fits the map, and colour is cheaper to carry once, in the global
vector, than at every position; the decoder sees the global vector at every position. Measured on the
shapes world (decode the map of a warm image with the global vector of a cool one): with one channel the
colour follows the global vector; with two channels it stayed in the map.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from ganalyze.pretrained import load_pretrained, save_pretrained


def downsampling_encoder(in_channels: int, chans: list[int]) -> list[nn.Module]:
    """Images of ``in_channels`` -> features at the code resolution: a 3×3 convolution to chans[0], then a
    stride-2 4×4 convolution per further entry of ``chans``, each followed by a leaky ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, chans[0], 3, padding=1), nn.LeakyReLU(0.2)]
    for c_in, c_out in zip(chans[:-1], chans[1:]):
        layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    return layers


def upsampling_decoder(in_channels: int, chans: list[int], depth: int) -> nn.Sequential:
    """Code-resolution maps of ``in_channels`` -> RGB logits at full resolution: a 3×3 convolution to chans[-1],
    then a 2× transposed convolution per stage down ``chans``, each followed by depth - 1 more 3×3 convolutions."""
    refine = lambda c: [m for _ in range(depth - 1) for m in (nn.LeakyReLU(0.2), nn.Conv2d(c, c, 3, padding=1))]  # noqa: E731
    dec: list[nn.Module] = [nn.Conv2d(in_channels, chans[-1], 3, padding=1), *refine(chans[-1])]
    for c_in, c_out in zip(chans[::-1][:-1], chans[::-1][1:]):
        dec += [nn.LeakyReLU(0.2), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), *refine(c_out)]
    return nn.Sequential(*dec, nn.LeakyReLU(0.2), nn.Conv2d(chans[0], 3, 3, padding=1))


class AutoEncoder(nn.Module):
    """Convolutional VAE: images in [0, 1] (N, 3, R, R) <-> codes (N, latent_dim) = [map flattened, global vector].

    The map is (latent_channels, R / 2^stages, R / 2^stages): a spatial code keeps edges sharp for a fraction
    of the compute of a fully connected bottleneck, and keeps where things are where they were. The global
    vector (global_dim numbers, 0 for none) is read from the mean and maximum of the encoder's features.
    ``decoder_depth`` 3×3 convolutions at each decoder resolution: a one-channel map needs them to draw crisp outlines.
    """

    def __init__(self, resolution: int = 32, latent_channels: int = 4, stages: int = 2, width: int = 32,
                 global_dim: int = 0, decoder_depth: int = 1):
        super().__init__()
        side = resolution // 2**stages
        if stages < 1 or side * 2**stages != resolution:
            raise ValueError(f"resolution {resolution} must be divisible by 2**stages = {2 ** stages} (stages >= 1)")
        self.config = {"resolution": resolution, "latent_channels": latent_channels, "stages": stages, "width": width,
                       "global_dim": global_dim, "decoder_depth": decoder_depth}
        self.resolution, self.latent_shape, self.global_dim = resolution, (latent_channels, side, side), global_dim
        self.spatial_dim = latent_channels * side * side
        self.latent_dim = self.spatial_dim + global_dim
        chans = [width * 2**i for i in range(stages + 1)]  # full resolution -> code resolution
        self.features = nn.Sequential(*downsampling_encoder(3, chans))
        self.spatial_head = nn.Conv2d(chans[-1], 2 * latent_channels, 3, padding=1)
        self.global_head = (nn.Sequential(nn.Linear(2 * chans[-1], chans[-1]), nn.LeakyReLU(0.2),
                                          nn.Linear(chans[-1], 2 * global_dim)) if global_dim else None)
        self.decoder = upsampling_decoder(latent_channels + global_dim, chans, decoder_depth)

    def posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] -> (mean, log-variance) of the code posterior."""
        features = self.features(images * 2 - 1)
        mean, logvar = (part.flatten(1) for part in self.spatial_head(features).chunk(2, dim=1))
        if self.global_head is not None:
            pooled = torch.cat([features.mean((2, 3)), features.amax((2, 3))], dim=1)
            g_mean, g_logvar = self.global_head(pooled).chunk(2, dim=1)
            mean, logvar = torch.cat([mean, g_mean], 1), torch.cat([logvar, g_logvar], 1)
        return mean, logvar.clamp(-12.0, 4.0)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> codes (posterior means)."""
        return self.posterior(images)[0]

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes -> images in [0, 1]."""
        spatial = codes[:, : self.spatial_dim].reshape(-1, *self.latent_shape)
        glob = codes[:, self.spatial_dim :, None, None].expand(-1, -1, *self.latent_shape[1:])
        return torch.sigmoid(self.decoder(torch.cat([spatial, glob], dim=1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction D(E(x))."""
        return self.decode(self.encode(images))

    def loss(self, images: torch.Tensor, kl_weight: float, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """VAE loss per image: summed squared pixel error + kl_weight · KL(q(h|x) || N(0, I)); returns its parts."""
        mean, logvar = self.posterior(images)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        recon = self.decode(mean + noise * (0.5 * logvar).exp())
        rec = (recon - images).pow(2).flatten(1).sum(1).mean()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        return {"loss": rec + kl_weight * kl, "reconstruction": rec, "kl": kl}

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """Write config.json and model.pt to ``folder``."""
        save_pretrained(self, self.config, folder)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> "AutoEncoder":
        """Load a folder written by save_pretrained (safe, strict keys), frozen and in eval mode."""
        return load_pretrained(cls, folder)
