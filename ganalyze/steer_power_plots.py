"""Pictures of the steerability-power analysis: Δμ against data σ per factor with the fit, and the limits curves."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganalyze.figures import save_figure

COLOURS = {"shared": "tab:blue", "per_dataset": "tab:orange"}
LABELS = {"shared": "one walk shared by all data sets", "per_dataset": "a walk per data set"}


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_scatter(rows: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]], factor: str,
                 path: Path) -> Path:
    """Model Δμ under ±α* against the data set's σ of ``factor``: a point per data set and walk, the least-squares
    line, r, p and the bootstrap interval in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    pick = [r for r in rows if r["factor"] == factor]
    for walk in dict.fromkeys(r["walk"] for r in pick):
        mine = [r for r in pick if r["walk"] == walk]
        s = next(s for s in summary if s["walk"] == walk and s["factor"] == factor)
        sigma = np.array([r["data_sigma"] for r in mine])
        delta = np.array([r["delta_mu"] for r in mine])
        label = (f"{LABELS[walk]} ({s['transformer']}): r = {s['r']:.2f}, p = {s['p']:.1e}, "
                 f"95% [{s['r_low']:.2f}, {s['r_high']:.2f}]")
        ax.scatter(sigma, delta, color=COLOURS[walk], s=22, label=label)
        if np.isfinite(s["slope"]):
            xs = np.linspace(sigma.min(), sigma.max(), 2)
            ax.plot(xs, s["intercept"] + s["slope"] * xs, color=COLOURS[walk], lw=1.2)
    first = pick[0]
    ax.set(xlabel=f"data σ of {factor} (each data set's exact spread)",
           ylabel=f"model Δμ of {factor} = μ(+α*) − μ(−α*), α* = {first['alpha_star']:g}")
    ax.legend(fontsize=7, loc="best")
    title = (f"{factor}: walks trained for the {first['edit']} edit on one shapes generator conditioned on "
             f"{len({r['dataset'] for r in pick})} data sets; {factor} measured from pixels over held-out seeds")
    ax.set_title(textwrap.fill(title, 70), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_limits(steer: Mapping[str, Mapping[str, Any]], path: Path) -> Path:
    """Per factor, the shared walk's median achieved transformation against the requested α, the identity, half of
    it (the paper's limit) and where the walk falls below half."""
    plt = _pyplot()
    factors = list(steer)
    fig, axes = plt.subplots(1, len(factors), figsize=(3.6 * len(factors), 3.8), squeeze=False)
    for ax, factor in zip(axes[0], factors):
        s = steer[factor]
        a = np.array([p["alpha"] for p in s["per_alpha"]])
        ax.fill_between(a, [p["q25"] for p in s["per_alpha"]], [p["q75"] for p in s["per_alpha"]], color="tab:blue",
                        alpha=0.2, label="walk: quartiles over seeds")
        ax.plot(a, [p["median"] for p in s["per_alpha"]], "o-", color="tab:blue", ms=3, label="walk: median")
        ax.plot(a, a, color="0.4", lw=1, ls=":", label="requested")
        ax.plot(a, a / 2, color="tab:red", lw=1, ls=":", label="half of requested")
        ax.axvspan(*s["trained_range"], color="0.9", zorder=0, label="trained α range")
        for limit in (s.get("limit_low"), s.get("limit_high")):
            if limit is not None:
                ax.axvline(limit, color="tab:red", lw=1, ls="--")
        rho = s.get("spearman_rho")  # None where it was NaN (JSON has no NaN): a walk that never changes the factor
        ax.set_title(f"{factor} ({s['edit']}): ρ = {'n/a' if rho is None else f'{rho:.2f}'}", fontsize=9)
        ax.set(xlabel=f"requested α ({s['unit']})", ylabel=f"achieved, from pixels ({s['unit']})")
    axes[0][0].legend(fontsize=6)
    fig.suptitle("Limits of the shared walks (one per factor, all data sets): achieved against requested "
                 "transformation; dashed red: first α where the median falls below half", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return save_figure(fig, path)
