"""The trained projection model: autoencoder + conditional flow, saved together in one folder.

Folder layout: ``autoencoder/`` and ``flow/``, each written by its own save_pretrained, and optionally
``noise.json``: the pixel noise each data set adds beyond what the decoder draws (see ``render``). The flow's
config holds the data-set names, so a folder is self-describing.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganalyze.atomic import write_json
from ganalyze.errors import WeightsError
from ganalyze.projection.autoencoder import AutoEncoder
from ganalyze.projection.broadcast import load_autoencoder
from ganalyze.projection.flow import ConditionalFlow
from ganalyze.projection.nuisance_flow import load_flow

SHIPPED_FOLDER = Path(__file__).resolve().parent.parent / "weights" / "projection"
NOISE_NAME = "noise.json"


class ProjectionModel(nn.Module):
    """x* = D(T⁻¹(T(E(x) | y) | y*)): renders the content of x as data set y* would."""

    def __init__(self, autoencoder: AutoEncoder, flow: ConditionalFlow, noise_std: list[float] | None = None):
        super().__init__()
        if (tuple(flow.shape), flow.global_dim) != (tuple(autoencoder.latent_shape), autoencoder.global_dim):
            raise WeightsError(
                f"the flow models codes of shape {list(flow.shape)} + {flow.global_dim} global numbers but the "
                f"autoencoder makes {list(autoencoder.latent_shape)} + {autoencoder.global_dim}; "
                "train the flow on this autoencoder's codes."
            )
        if getattr(flow, "nuisance_dim", None) != getattr(autoencoder, "nuisance_dim", None):
            raise WeightsError(f"the flow keeps {getattr(flow, 'shape_dim', 'no')} shape numbers after "
                               f"{getattr(flow, 'nuisance_dim', 'no')} nuisance numbers, but the autoencoder's code has "
                               f"{getattr(autoencoder, 'nuisance_dim', 'no')} nuisance numbers; train the flow on this "
                               "autoencoder's codes.")
        if noise_std is not None and (len(noise_std) != len(flow.labels) or not all(math.isfinite(s) and s >= 0 for s in noise_std)):
            raise WeightsError(f"noise_std={noise_std} must hold one finite value >= 0 per data set "
                               f"({', '.join(flow.labels)}).")
        self.autoencoder, self.flow = autoencoder, flow
        if hasattr(flow, "attach"):  # a flow that reads the drawn size needs this autoencoder's masks
            flow.attach(autoencoder)
        self.register_buffer("noise_std", torch.tensor(noise_std if noise_std is not None else [0.0] * len(flow.labels)),
                             persistent=False)

    @property
    def labels(self) -> list[str]:
        """Data-set names, in label-id order."""
        return self.flow.labels

    def resize(self, images: torch.Tensor) -> torch.Tensor:
        """Images of any size -> the autoencoder's resolution (antialiased bilinear; identity if already there)."""
        r = self.autoencoder.resolution
        if images.shape[-2:] == (r, r):
            return images
        return F.interpolate(images, size=(r, r), mode="bilinear", antialias=True, align_corners=False)

    def to_prior(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images of data sets ``labels`` -> their data-set-free content codes z = T(E(x) | y)."""
        return self.flow(self.autoencoder.encode(self.resize(images)), labels)[0]

    def render(self, z: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Content codes z -> images as data sets ``labels`` render them, D(T⁻¹(z | y)), plus each data set's
        pixel noise (Gaussian, noise_std[y]; none where it is 0): a decoder trained on squared error draws
        the mean image, so noise a data set holds (a low-quality camera) is drawn here."""
        images = self.autoencoder.decode(self.flow.inverse(z, labels))
        std = self.noise_std[labels].view(-1, 1, 1, 1)
        if not bool((std > 0).any()):
            return images
        return (images + std * torch.randn(images.shape, generator=generator)).clamp(0.0, 1.0)

    def project(self, images: torch.Tensor, source: torch.Tensor, target: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Images of data sets ``source`` -> the same content rendered as data sets ``target``."""
        return self.render(self.to_prior(images, source), target, generator)

    def class_log_likelihoods(self, images: torch.Tensor) -> torch.Tensor:
        """log p(E(x) | y) for every data set y: (N, K)."""
        return self.flow.class_log_likelihoods(self.autoencoder.encode(self.resize(images)))

    def log_posterior(self, images: torch.Tensor) -> torch.Tensor:
        """log p(y | x) for every data set y, by Bayes with a uniform prior over the flow's likelihoods: (N, K)."""
        ll = self.class_log_likelihoods(images)
        return ll - torch.logsumexp(ll, dim=1, keepdim=True)

    def typicality(self, images: torch.Tensor) -> torch.Tensor:
        """log p(E(x)) per code dimension under the uniform mixture of the data sets, (N,): low for images unlike
        every data set (such as colours or backgrounds none of them holds), where log p(y | x) means little."""
        ll = self.class_log_likelihoods(images)
        return (torch.logsumexp(ll, dim=1) - math.log(ll.shape[1])) / self.flow.dim

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """Write ``folder/autoencoder``, ``folder/flow`` and, where a data set has pixel noise, ``folder/noise.json``."""
        self.autoencoder.save_pretrained(Path(folder) / "autoencoder")
        self.flow.save_pretrained(Path(folder) / "flow")
        if bool((self.noise_std > 0).any()):
            write_json(Path(folder) / NOISE_NAME, {"labels": self.labels, "noise_std": self.noise_std.tolist()})

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "ProjectionModel":
        """Load a folder written by save_pretrained (default: the weights shipped with the package), eval mode."""
        folder = Path(folder) if folder is not None else SHIPPED_FOLDER
        if not folder.is_dir():
            raise WeightsError(
                f"no projection model folder at {folder}; expected one with autoencoder/ and flow/ written by "
                "ganalyze-project-train (or ProjectionModel.save_pretrained)."
            )
        flow = load_flow(folder / "flow")
        model = cls(load_autoencoder(folder / "autoencoder"), flow, read_noise(folder / NOISE_NAME, flow.labels))
        return model.eval()


def read_noise(path: Path, labels: list[str]) -> list[float] | None:
    """The per-data-set pixel noise of a model folder (None without the file), checked against its labels."""
    if not path.is_file():
        return None
    try:
        noise = json.loads(path.read_text())
        if noise["labels"] != labels:
            raise ValueError(f"its labels {noise['labels']} are not the flow's {labels}")
        return [float(s) for s in noise["noise_std"]]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise WeightsError(f"{path} is not a noise file of this model ({err}); expected JSON "
                           '{"labels": [...the flow\'s data sets...], "noise_std": [one number >= 0 each]}.') from err
