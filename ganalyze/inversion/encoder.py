"""A learned encoder image -> z for a generator's sampling space: the fast initialisation of the inversion.

It predicts z itself (not the decoder's code), so its output is where ``sample_latents`` draws from:
z = bound·tanh(h / bound) keeps every coordinate inside the truncated normal's ±bound. Trained against one
generator's weights (scripts/train_shapes_encoder.py); its config stores that generator's fingerprint, and
``shipped_encoder_for`` hands it out only for a generator with the same weights.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import torch
from torch import nn

from ganalyze.atomic import write_json, write_with
from ganalyze.errors import WeightsError
from ganalyze.pretrained import CONFIG_NAME, WEIGHTS_NAME, load_pretrained

SHIPPED_FOLDER = Path(__file__).resolve().parent.parent / "weights" / "shapes_encoder"
LATENT_BOUND = 2.0  # Generator.sample_latents cuts each coordinate at ±2 (truncation 1)


def generator_fingerprint(generator: nn.Module) -> str:
    """A short hash of a generator's weights and buffers: an encoder fits only the weights it was trained on."""
    digest = hashlib.sha256()
    for name, tensor in sorted(generator.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class LatentEncoder(nn.Module):
    """Images in [0, 1] and class ids -> z (n, dim_z): strided convolutions to 4×4, then an MLP with the class."""

    def __init__(self, dim_z: int, num_classes: int, resolution: int = 32, width: int = 32, hidden: int = 256,
                 embed_dim: int = 16, generator: str = ""):
        super().__init__()
        stages = int(round(math.log2(resolution))) - 2
        if stages < 1 or 4 * 2**stages != resolution:
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        self.dim_z, self.num_classes, self.resolution = dim_z, num_classes, resolution
        self.config = {"dim_z": dim_z, "num_classes": num_classes, "resolution": resolution, "width": width,
                       "hidden": hidden, "embed_dim": embed_dim, "generator": generator}
        chans = [3] + [width * min(2**i, 4) for i in range(stages)]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.SiLU()]
        self.features = nn.Sequential(*layers, nn.Conv2d(chans[-1], width, 1), nn.SiLU(), nn.Flatten())
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.head = nn.Sequential(nn.Linear(width * 16 + embed_dim, hidden), nn.SiLU(), nn.Linear(hidden, dim_z))

    def forward(self, images: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Images (n, 3, R, R) in [0, 1] and class ids (n,) -> latents z inside ±LATENT_BOUND."""
        h = self.head(torch.cat([self.features(images * 2 - 1), self.embed(y)], dim=1))
        return LATENT_BOUND * torch.tanh(h / LATENT_BOUND)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write config.json and model.pt (a plain state dict) to ``folder``, each atomically."""
        folder = Path(folder)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        write_json(folder / CONFIG_NAME, self.config)
        write_with(folder / WEIGHTS_NAME, lambda handle: torch.save(state, handle))
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "LatentEncoder":
        """Load a frozen eval-mode encoder from ``folder`` (None: the one shipped for the shapes generator)."""
        return load_pretrained(cls, SHIPPED_FOLDER if folder is None else folder)

    def fits(self, generator: nn.Module) -> bool:
        """True when this encoder was trained for ``generator``'s sizes and exact weights."""
        return (getattr(generator, "dim_z", None), getattr(generator, "num_classes", None),
                getattr(generator, "resolution", None)) == (self.dim_z, self.num_classes, self.resolution) and \
            self.config["generator"] == generator_fingerprint(generator)


def encoder_for(generator: nn.Module, choice: str | None) -> LatentEncoder | None:
    """The encoder an inverter starts from: ``auto`` = the shipped one if it fits the generator, else none;
    None = none; a folder = that encoder, which must fit the generator."""
    if choice is None or choice == "none":
        return None
    if choice == "auto":
        if not (SHIPPED_FOLDER / WEIGHTS_NAME).is_file():
            return None
        encoder = LatentEncoder.from_pretrained()
        return encoder if encoder.fits(generator) else None
    encoder = LatentEncoder.from_pretrained(choice)
    if not encoder.fits(generator):
        raise WeightsError(
            f"inverter.encoder={choice} was trained for another generator (config {encoder.config}); it does not "
            f"fit this one (dim_z={getattr(generator, 'dim_z', None)}, num_classes="
            f"{getattr(generator, 'num_classes', None)}, weights {generator_fingerprint(generator)}). "
            "Use inverter.encoder=auto or null, or train one with scripts/train_shapes_encoder.py.")
    return encoder
