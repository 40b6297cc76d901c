"""Edit real images: invert each into the generator, then walk the trained direction from its latent.

``edit_images`` is the core (``Run.edit(images, alphas)`` in the Python API, ``ganalyze-edit`` on the command
line): per image the inversion and its reconstruction report, and per α the generated edit, its assessor
score and, on the shapes world, its measured factors and predicted class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ganalyze.evaluation import CIRCULAR_FACTORS, EvalSettings, Sweep, change_from_zero, slider_alpha, sweep, world_tools
from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator
from ganalyze.inversion.images import load_images
from ganalyze.inversion.inverter import Inversion, Inverter
from ganalyze.inversion.report import reconstruction_report
from ganalyze.transformers.base import Transformer


@dataclass
class EditResult:
    """Real images, their inversion and report, the edits (n, A, 3, R, R) with what was measured on them, and what
    was done to each image on reading (conversion, crop, resize)."""

    names: list[str]
    alphas: np.ndarray
    images: torch.Tensor
    inversion: Inversion
    report: list[dict[str, Any]]
    edits: torch.Tensor
    sweep: Sweep
    image_scores: np.ndarray
    notes: list[str]

    def changes(self) -> dict[str, np.ndarray]:
        """Change of the score and each measured factor from α = 0 (the reconstruction), (n, A) each."""
        values = {"score": self.sweep.scores, **self.sweep.factors}
        return {k: change_from_zero(self.alphas, v, CIRCULAR_FACTORS.get(k)) for k, v in values.items()}

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per (image, α): scores, measured factors, their changes, the class kept or not."""
        changes = self.changes()
        rows = []
        for i, name in enumerate(self.names):
            for j, alpha in enumerate(self.alphas):
                row: dict[str, Any] = {"image": name, "alpha": float(alpha), "score": float(self.sweep.scores[i, j]),
                                       "score_change": float(changes["score"][i, j])}
                for factor, values in self.sweep.factors.items():
                    row[factor] = float(values[i, j])
                    row[f"{factor}_change"] = float(changes[factor][i, j])
                if self.sweep.predicted is not None:
                    row["predicted_class"] = int(self.sweep.predicted[i, j])
                    row["class_kept"] = bool(self.sweep.predicted[i, j] == int(self.inversion.y[i]))
                rows.append(row)
        return rows


def edit_alphas(alphas: Sequence[float]) -> np.ndarray:
    """The α grid of an edit: the given values, sorted, with α = 0 (the reconstruction itself) added."""
    try:
        values = np.asarray([float(a) for a in alphas], dtype=float)
    except (TypeError, ValueError):
        values = np.array([np.nan])
    if values.ndim != 1 or len(values) == 0 or not np.isfinite(values).all():
        raise ConfigError(f"alphas must be a non-empty list of finite numbers, e.g. alphas=[-0.02,0.02]; got {alphas!r}.")
    return np.unique(np.concatenate([values, [0.0]]))


@torch.no_grad()
def walk_images(generator: Generator, transformer: Transformer, z: torch.Tensor, y: torch.Tensor,
                alphas: Sequence[float], slider: int = 0) -> torch.Tensor:
    """G(T(z, α, y), y) for every latent and α: (n, A, 3, R, R) on the CPU."""
    alpha_dim = int(getattr(transformer, "alpha_dim", 1))
    columns = [generator(transformer(z, slider_alpha(a, len(z), alpha_dim, slider, z.device), y), y).cpu() for a in alphas]
    return torch.stack(columns, dim=1)


def edit_images(generator: Generator, transformer: Transformer, assessor: torch.nn.Module,
                images: torch.Tensor | str | os.PathLike | list[str | os.PathLike], alphas: Sequence[float],
                inverter: Inverter | None = None, classes: Sequence[int] | None = None,
                names: Sequence[str] | None = None, slider: int = 0, true_classes: torch.Tensor | None = None,
                batch_size: int = 250) -> EditResult:
    """Invert ``images`` and walk each along the direction to every α in ``alphas`` (and 0).

    ``images``: a tensor (n, 3, R, R) in [0, 1] at the generator's resolution, or image files / folders (read by
    load_images, named by their files).

    ``classes`` fixes the images' classes (else the inverter chooses); ``true_classes`` (known on the shapes
    world) adds whether the inversion recovered them to the report.
    """
    alphas_array = edit_alphas(alphas)
    notes = [""] * len(images) if isinstance(images, torch.Tensor) else None
    if not isinstance(images, torch.Tensor):
        loaded = load_images(images, generator.resolution)
        images, names, notes = loaded.images, names if names is not None else loaded.names, loaded.notes
    names = list(names) if names is not None else [f"image_{i}" for i in range(len(images))]
    inversion = (inverter or Inverter())(generator, images, classes)
    tools = world_tools(generator, "auto")
    report = reconstruction_report(images.to(inversion.reconstruction.device), inversion,
                                   tools.measure if tools else None, true_classes)
    with torch.no_grad():
        image_scores = assessor(images.to(inversion.z.device)).float().cpu().numpy()
        reconstruction_scores = assessor(inversion.reconstruction).float().cpu().numpy()
    for row, real, rec in zip(report, image_scores, reconstruction_scores):
        row["score_image"], row["score_reconstruction"] = float(real), float(rec)
    settings = EvalSettings(batch_size=batch_size, slider=slider)
    measured = sweep(generator, transformer, assessor, inversion.z, inversion.y, alphas_array, settings, tools, "edit")
    edits = walk_images(generator, transformer, inversion.z, inversion.y, alphas_array, slider)
    return EditResult(names, alphas_array, images.cpu(), inversion, report, edits, measured, image_scores, notes)
