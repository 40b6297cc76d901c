"""What changes when the score goes up: how image factors (and, on the shapes world, the true factors)
change with α along a trained direction, the GANalyze paper's "what makes an image more X" analysis.

It is the held-out evaluation (same seeds, α grid and random baseline) measuring more on every image:
the image-factor assessors (brightness, colourfulness, redness, centeredness, simplicity, object size)
and, for the shapes generator, the world's pixel measurement of the true factors. Per factor and
direction: slope and Spearman ρ of the change from α = 0 over the trained range [a, b], the fraction
of seeds changing monotonically, the relative change (mean change from α = a to α = b over |mean at
α = 0|) and the standardised change (that change over the factor's spread across seeds at α = 0).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from assessors import create_assessor  # noqa: E402
from assessors.factors import measure_factors  # noqa: E402
from ganalyze.evaluation import (CIRCULAR_FACTORS, Evaluation, WorldTools, change_from_zero,  # noqa: E402
                                 world_tools, zero_index)
from ganalyze.figures import save_figure  # noqa: E402
from ganalyze.generators.base import Generator  # noqa: E402
from ganalyze.world import MEASURED_FACTORS  # noqa: E402

COLUMNS = ("direction", "factor", "source", "slope", "spearman", "monotonic_fraction",
           "relative_change", "standardised_change", "mean_at_zero")
Measure = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def image_factor_measure() -> Measure:
    """Images -> {factor: (N,)} for the image-factor assessors and the object-size estimate, without gradients."""
    object_size = create_assessor("object_size")

    def measure(images: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return {**measure_factors(images), "object_size": object_size.to(images.device)(images)}

    return measure


def factor_tools(generator: Generator, world: str | bool) -> tuple[WorldTools, set[str]]:
    """Instruments measuring the image factors plus, on the shapes world, the true factors; and the true names."""
    truth = world_tools(generator, world)
    images = image_factor_measure()

    def measure(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {**images(x), **(truth.measure(x) if truth else {})}

    true_names = set(MEASURED_FACTORS) if truth else set()
    return WorldTools(measure, truth.classifier if truth else None), true_names


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero (the ratio is undefined, not infinite)."""
    return numerator / denominator if denominator != 0 else math.nan


def factor_table(evaluation: Evaluation, true_names: set[str]) -> list[dict[str, Any]]:
    """One row per direction and factor (the score first): the columns of ``COLUMNS``."""
    alphas = evaluation.alphas
    low, high = (int(np.flatnonzero(np.isclose(alphas, v))[0]) for v in evaluation.alpha_range)
    zero = zero_index(alphas)
    rows = []
    for direction, result in evaluation.sweeps.items():
        for name, values in {"score": result.scores, **dict(sorted(result.factors.items()))}.items():
            metrics = evaluation.metrics[direction][name]
            delta = change_from_zero(alphas, values, CIRCULAR_FACTORS.get(name))
            change = float((delta[:, high] - delta[:, low]).mean())
            rows.append({
                "direction": direction, "factor": name,
                "source": "score" if name == "score" else "true" if name in true_names else "image",
                "slope": metrics["slope"], "spearman": metrics["spearman"],
                "monotonic_fraction": metrics["monotonic_fraction"],
                "relative_change": _ratio(change, abs(float(values[:, zero].mean()))),
                "standardised_change": _ratio(change, float(values[:, zero].std())),
                "mean_at_zero": float(values[:, zero].mean()),
            })
    return rows


def plot_factors(evaluation: Evaluation, path: str | Path, assessor: str | None = None,
                 generator: str | None = None) -> Path:
    """Mean change of every factor from α = 0, in units of its spread at α = 0, vs α; trained and random.
    ``assessor`` and ``generator`` name what the direction was trained with, in the title."""
    zero = zero_index(evaluation.alphas)
    fig, axes = plt.subplots(1, len(evaluation.sweeps), figsize=(5.2 * len(evaluation.sweeps), 3.8), sharey=True,
                             squeeze=False)
    palette = plt.get_cmap("tab20").colors  # a distinct colour for each of the (up to 13) factors
    for ax, (direction, result) in zip(axes[0], evaluation.sweeps.items()):
        for i, (name, values) in enumerate({"score": result.scores, **dict(sorted(result.factors.items()))}.items()):
            spread = values[:, zero].std()
            delta = change_from_zero(evaluation.alphas, values, CIRCULAR_FACTORS.get(name))
            ax.plot(evaluation.alphas, delta.mean(0) / (spread if spread > 0 else 1.0), marker="o", ms=2,
                    lw=2.2 if name == "score" else 1.0, color="k" if name == "score" else palette[i % 20], label=name)
        ax.axvspan(*evaluation.alpha_range, color="grey", alpha=0.12, lw=0, label="trained α range")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set(title=f"{direction} direction", xlabel="α", ylabel="mean change from α=0 / spread at α=0")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    raised = f"{assessor} score" if assessor else "the assessor's score"
    on = f" of {generator}" if generator else ""
    fig.suptitle(f"Every factor along the direction trained to raise {raised}{on} "
                 f"(black: that score; {len(evaluation.seeds)} held-out seeds)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, path, dpi=100)


def save_factor_table(rows: list[dict[str, Any]], evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write factors.csv and factors.json (the table, the α grid and range, the number of seeds)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "factors.csv", "json": out_dir / "factors.json"}
    with paths["csv"].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()} for row in rows)
    finite = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]
    payload = {"alpha_range": list(evaluation.alpha_range), "alphas": evaluation.alphas.tolist(),
               "num_seeds": len(evaluation.seeds), "factors": finite}
    paths["json"].write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    return paths
