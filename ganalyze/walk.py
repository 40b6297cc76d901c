"""A walk: latents pushed along a trained direction over a row of α, with every image, its score and (on the
shapes world) its true factors measured from pixels; drawn as a grid (rows = latents, columns = α)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ganalyze.evaluation import Sweep, WorldTools, slider_alpha, world_tools
from ganalyze.generators.base import Generator
from ganalyze.transformers.base import Transformer
from ganalyze.visuals import image_grid


@dataclass
class Walk:
    """Images (N, A, C, H, W) in [0, 1] of N latents at A step sizes α, the assessor's scores (N, A), the class
    of each row, and on the shapes world the measured true ``factors`` (name -> (N, A)) and ``class_kept``
    (N, A): whether the shape classifier still sees the row's class."""

    images: torch.Tensor
    scores: np.ndarray
    alphas: np.ndarray
    classes: np.ndarray
    row_labels: list[str]
    title: str
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    class_kept: np.ndarray | None = None
    trained_range: tuple[float, float] | None = None
    score_label: str | None = None

    def grid(self) -> Image.Image:
        """The walk as one picture: α above each column (trained range framed), the row's seed and class at its
        left, scores on images."""
        return image_grid(self.images, self.scores, self.alphas, self.row_labels, self.title,
                          trained_range=self.trained_range, score_label=self.score_label)


def class_label(generator: Generator, class_id: int) -> str:
    """A class by its name where the generator names its classes (circle, goldfish), else by its id."""
    names = getattr(generator, "class_names", None)
    return str(names[class_id]) if names else f"class {class_id}"


@torch.no_grad()
def walk(generator: Generator, transformer: Transformer, assessor: torch.nn.Module, z: torch.Tensor, y: torch.Tensor,
         alphas: Sequence[float], row_names: Sequence[str], title: str, slider: int = 0,
         tools: WorldTools | None = None, trained_range: tuple[float, float] | None = None,
         score_label: str | None = None) -> Walk:
    """Generate G(T(z, α, y), y) for every latent and α, score it, and measure the world's factors where ``tools``
    are given (default: the shapes world's instruments when ``generator`` is the shapes generator)."""
    tools = tools if tools is not None else world_tools(generator, "auto")
    device = next(transformer.parameters()).device
    z, y = z.to(device), y.to(device)
    alpha_dim = int(getattr(transformer, "alpha_dim", 1))
    columns, scores, measured, kept = [], [], [], []
    for value in alphas:
        images = generator(transformer(z, slider_alpha(value, len(z), alpha_dim, slider, device), y), y).float()
        columns.append(images.cpu())
        scores.append(assessor(images).float().cpu().numpy())
        if tools is not None:
            measured.append({name: v.numpy() for name, v in tools.measure(images.cpu()).items()})
            if tools.classifier is not None:
                kept.append((tools.classifier.to(images.device)(images).argmax(1) == y).cpu().numpy())
    factors = {name: np.stack([m[name] for m in measured], axis=1) for name in (measured[0] if measured else {})}
    return Walk(torch.stack(columns, dim=1), np.stack(scores, axis=1), np.asarray(alphas, dtype=float),
                y.cpu().numpy(), row_labels(generator, row_names, y), title, factors,
                np.stack(kept, axis=1) if kept else None, trained_range, score_label)


def row_labels(generator: Generator, row_names: Sequence[str], y: torch.Tensor | np.ndarray) -> list[str]:
    """Each row's name and class, the labels at the left of a walk's grid."""
    return [f"{name} {class_label(generator, int(c))}" for name, c in zip(row_names, y)]


def walk_of_sweep(result: Sweep, generator: Generator, y: torch.Tensor, alphas: Sequence[float],
                  row_names: Sequence[str], title: str, trained_range: tuple[float, float] | None = None,
                  score_label: str | None = None) -> Walk:
    """The walk of a sweep's first seeds (one per row name, of classes ``y``) over the sweep's α, from the images
    the sweep kept and what it measured of them: what ``walk`` gives for them, without generating them again."""
    n = len(row_names)
    if result.images is None or len(result.images) < n or result.images.shape[1] != len(alphas):
        kept = "no images" if result.images is None else f"images of {tuple(result.images.shape[:2])} (seeds, α)"
        raise ValueError(f"the sweep kept {kept}, not the {n} seeds x {len(alphas)} α of this walk")
    y = y.cpu().numpy()[:n]
    kept_class = None if result.predicted is None else result.predicted[:n] == y[:, None]
    return Walk(result.images[:n], result.scores[:n], np.asarray(alphas, dtype=float), y,
                row_labels(generator, row_names, y), title, {k: v[:n] for k, v in result.factors.items()},
                kept_class, trained_range, score_label)
