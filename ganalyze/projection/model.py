"""The trained projection model: autoencoder + conditional flow, saved together in one folder.

Folder layout: ``autoencoder/`` and ``flow/``, each written by its own save_pretrained. The flow's config
holds the data-set names, so a folder is self-describing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganalyze.errors import WeightsError
from ganalyze.projection.autoencoder import AutoEncoder
from ganalyze.projection.flow import ConditionalFlow

SHIPPED_FOLDER = Path(__file__).resolve().parent.parent / "weights" / "projection"


class ProjectionModel(nn.Module):
    """x* = D(T⁻¹(T(E(x) | y) | y*)): renders the content of x as data set y* would."""

    def __init__(self, autoencoder: AutoEncoder, flow: ConditionalFlow):
        super().__init__()
        if (tuple(flow.shape), flow.global_dim) != (tuple(autoencoder.latent_shape), autoencoder.global_dim):
            raise WeightsError(
                f"the flow models codes of shape {list(flow.shape)} + {flow.global_dim} global numbers but the "
                f"autoencoder makes {list(autoencoder.latent_shape)} + {autoencoder.global_dim}; "
                "train the flow on this autoencoder's codes."
            )
        self.autoencoder, self.flow = autoencoder, flow

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

    def render(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Content codes z -> images as data sets ``labels`` render them, D(T⁻¹(z | y))."""
        return self.autoencoder.decode(self.flow.inverse(z, labels))

    def project(self, images: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Images of data sets ``source`` -> the same content rendered as data sets ``target``."""
        return self.render(self.to_prior(images, source), target)

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
        """Write ``folder/autoencoder`` and ``folder/flow``."""
        self.autoencoder.save_pretrained(Path(folder) / "autoencoder")
        self.flow.save_pretrained(Path(folder) / "flow")

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike | None = None) -> "ProjectionModel":
        """Load a folder written by save_pretrained (default: the weights shipped with the package), eval mode."""
        folder = Path(folder) if folder is not None else SHIPPED_FOLDER
        if not folder.is_dir():
            raise WeightsError(
                f"no projection model folder at {folder}; expected one with autoencoder/ and flow/ written by "
                "ganalyze-project-train (or ProjectionModel.save_pretrained)."
            )
        model = cls(AutoEncoder.from_pretrained(folder / "autoencoder"), ConditionalFlow.from_pretrained(folder / "flow"))
        return model.eval()
