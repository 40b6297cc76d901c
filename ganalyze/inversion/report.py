"""The reconstruction report of an inversion: per image pixel MSE and PSNR and, on the shapes world, the true
factors measured from the pixels of the image and of its reconstruction (size, centroid, hue) and their errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ganalyze.inversion.inverter import Inversion
from ganalyze.inversion.loss import psnr

WORLD_FACTORS = ("size", "x", "y", "hue")


def hue_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a - b in degrees, wrapped to [-180, 180)."""
    return torch.remainder(a - b + 180.0, 360.0) - 180.0


def factor_errors(measure: Callable[[torch.Tensor], dict[str, torch.Tensor]], images: torch.Tensor,
                  reconstruction: torch.Tensor) -> dict[str, torch.Tensor]:
    """Measured factors of both and the errors: size (area fraction), centroid (pixels), hue (degrees)."""
    true, rec = measure(images.float().cpu()), measure(reconstruction.float().cpu())
    side = images.shape[-1]
    return {**{f"{k}_image": true[k] for k in WORLD_FACTORS}, **{f"{k}_reconstruction": rec[k] for k in WORLD_FACTORS},
            "size_error": (rec["size"] - true["size"]).abs(),
            "centroid_error_px": side * torch.hypot(rec["x"] - true["x"], rec["y"] - true["y"]),
            "hue_error_deg": hue_difference(rec["hue"], true["hue"]).abs()}


def reconstruction_report(images: torch.Tensor, inversion: Inversion,
                          measure: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
                          true_classes: torch.Tensor | None = None) -> list[dict[str, Any]]:
    """One row per image: class chosen, loss, MSE, PSNR; with ``measure`` the factor errors; with the true
    classes whether the class was recovered."""
    rec = inversion.reconstruction.to(images.device)
    columns: dict[str, torch.Tensor] = {
        "class": inversion.y.cpu(), "loss": inversion.loss.cpu(),
        "mse": (rec - images).float().pow(2).flatten(1).mean(1).cpu(), "psnr": psnr(rec, images).cpu()}
    if true_classes is not None:
        columns["true_class"] = true_classes.cpu()
        columns["class_recovered"] = (inversion.y.cpu() == true_classes.cpu())
    if measure is not None:
        columns.update(factor_errors(measure, images, rec))
    return [{k: v[i].item() for k, v in columns.items()} for i in range(len(images))]


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of every numeric column (a fraction for booleans), plus the median and 90th percentile of the errors."""
    summary: dict[str, float] = {}
    for key in rows[0] if rows else []:
        values = np.array([row[key] for row in rows], dtype=float)
        if key in ("class", "true_class"):
            continue
        summary[f"{key}_mean"] = float(values.mean())
        if key.endswith("error") or key.endswith(("_px", "_deg")) or key in ("psnr", "mse"):
            summary[f"{key}_median"] = float(np.median(values))
            summary[f"{key}_p90"] = float(np.percentile(values, 90))
    return summary
