"""A projection autoencoder whose code has no spatial layout: a global vector, decoded by a spatial broadcast decoder.

Why: with a spatial map in the code, where the object is stays where the map puts it, and a flow on the map
cannot move it (measured: warm images projected onto `centered` kept their centroid spread, 0.119 against
the real 0.036). Here the encoder sees the pixel coordinates (CoordConv) and ends in a dense layer, so the
position goes into a few numbers of the code; the decoder tiles the code over a small grid beside the
coordinates (the spatial broadcast decoder of Watters et al. 2019) and upsamples it. Position and size are
then numbers that the conditional flow moves per data set, like the colour.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from ganalyze.coordinates import coordinate_maps
from ganalyze.pretrained import load_config
from ganalyze.projection.autoencoder import AutoEncoder, downsampling_encoder, upsampling_decoder
from ganalyze.projection.object_centred import ObjectCentredAutoEncoder

OBJECT_KEYS = ("object_centred", "glimpse", "frame_weight", "hue_code", "degrade_weight", "fit_frame")  # settings only an object-centred autoencoder takes


class BroadcastAutoEncoder(AutoEncoder):
    """Convolutional VAE: images in [0, 1] (N, 3, R, R) <-> codes (N, global_dim), with no spatial map.

    ``latent_channels`` must be 0 (it names this layout in the config); ``stages`` 2× steps between the
    broadcast grid (R / 2^stages) and the image; ``width`` the channels at full resolution (doubled per stage);
    ``decoder_depth`` 3×3 convolutions at each decoder resolution. Loss, encode and save are AutoEncoder's.
    """

    def __init__(self, resolution: int = 32, latent_channels: int = 0, stages: int = 2, width: int = 16,
                 global_dim: int = 16, decoder_depth: int = 2):
        nn.Module.__init__(self)  # AutoEncoder's layers are not built: this one has its own
        side = resolution // 2**stages
        if latent_channels != 0 or global_dim < 1:
            raise ValueError(f"a broadcast autoencoder has latent_channels=0 and global_dim >= 1, got "
                             f"latent_channels={latent_channels}, global_dim={global_dim}")
        if stages < 1 or side * 2**stages != resolution:
            raise ValueError(f"resolution {resolution} must be divisible by 2**stages = {2 ** stages} (stages >= 1)")
        self.config = {"resolution": resolution, "latent_channels": 0, "stages": stages, "width": width,
                       "global_dim": global_dim, "decoder_depth": decoder_depth}
        self.resolution, self.latent_shape, self.global_dim = resolution, (0, 1, 1), global_dim
        self.spatial_dim, self.latent_dim = 0, global_dim
        chans = [width * 2**i for i in range(stages + 1)]
        self.features = nn.Sequential(*downsampling_encoder(3 + 2, chans), nn.Flatten())
        hidden = 4 * chans[-1]
        self.head = nn.Sequential(nn.Linear(chans[-1] * side * side, hidden), nn.LeakyReLU(0.2),
                                  nn.Linear(hidden, 2 * global_dim))
        self.register_buffer("image_coords", coordinate_maps(resolution, resolution), persistent=False)
        self.register_buffer("grid_coords", coordinate_maps(side, side), persistent=False)
        self.decoder = upsampling_decoder(global_dim + 2, chans, decoder_depth)

    def posterior(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images in [0, 1] -> (mean, log-variance) of the code posterior."""
        coords = self.image_coords.expand(len(images), -1, -1, -1)
        mean, logvar = self.head(self.features(torch.cat([images * 2 - 1, coords], dim=1))).chunk(2, dim=1)
        return mean, logvar.clamp(-12.0, 4.0)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes -> images in [0, 1]: the code tiled over the grid beside its coordinates, then upsampled."""
        side = self.grid_coords.shape[-1]
        tiled = codes[:, :, None, None].expand(-1, -1, side, side)
        grid = torch.cat([tiled, self.grid_coords.expand(len(codes), -1, -1, -1)], dim=1)
        return torch.sigmoid(self.decoder(grid))


def autoencoder_class(config: dict) -> type[AutoEncoder]:
    """The autoencoder a config names: object-centred (object_centred true), a spatial map (latent_channels >= 1)
    or a broadcast code (latent_channels 0)."""
    if config.get("object_centred", False):
        return ObjectCentredAutoEncoder
    return BroadcastAutoEncoder if int(config.get("latent_channels", 1)) == 0 else AutoEncoder


def build_autoencoder(config: dict) -> AutoEncoder:
    """A fresh autoencoder of the layout ``config`` names (settings of another layout are left out)."""
    cls = autoencoder_class(config)
    return cls(**(config if cls is ObjectCentredAutoEncoder else {k: v for k, v in config.items() if k not in OBJECT_KEYS}))


def load_autoencoder(folder: str | os.PathLike) -> AutoEncoder:
    """Load any of the autoencoders from its folder, chosen by its config.json."""
    return autoencoder_class(load_config(folder, "AutoEncoder")).from_pretrained(folder)
