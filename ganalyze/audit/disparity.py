"""Per-group disparity of an assessor, in the Gender Shades layout (Buolamwini & Gebru 2018).

For every group of images: the assessor's mean score, the positive rate P{score > t}, and, with a true value
per image (the world's true factor, or a CSV column), the mean absolute error, the mean signed error and the
true- and false-positive rates of the decision score > t against truth > t. Fairness criteria: independence
(the ratio min/max of the positive rates across groups, and the 80% rule: it passes when the ratio is >= 0.8)
and separation (the largest gaps in TPR and FPR). The largest gap of the headline metric (MAE with a truth,
the mean score without) is the highest group minus the lowest, with a bootstrap interval (each group resampled on
its own) and a permutation p-value that redoes the choice of the highest and lowest groups under the null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ganalyze.audit.intervals import bootstrap_stat, percentile_interval, permutation_p_value
from ganalyze.audit.sources import MIN_PER_GROUP, ImageSet
from ganalyze.errors import ConfigError
from ganalyze.world import SHAPE_NAMES
from ganalyze.world.measure import MEASURED_FACTORS, measure

FOUR_FIFTHS = 0.8  # the 80% rule of adverse impact
HUE_BINS = (0.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0)
HUE_NAMES = ("red-yellow", "yellow-green", "green-cyan", "cyan-blue", "blue-magenta", "magenta-red")


@dataclass(frozen=True)
class DisparitySettings:
    """Grouping, truth and threshold of the disparity audit, and the resampling budget."""

    group_by: str = "source"          # source | class_id | a factor name (binned by ``bins``)
    bins: tuple[float, ...] | None = None  # bin edges for a factor; hue defaults to six 60° bins
    bin_names: tuple[str, ...] | None = None
    truth: str | None = None          # a label holding the true value of what the assessor scores
    threshold: float | None = None    # t of P{score > t}; None = the median score of all images
    resamples: int = 1000
    permutations: int = 1000
    batch_size: int = 250


@torch.no_grad()
def score_images(assessor: torch.nn.Module, images: torch.Tensor, batch_size: int = 250) -> np.ndarray:
    """The assessor's scores (n,) of images in [0, 1], in batches."""
    parts = [assessor(chunk).float().reshape(-1) for chunk in tqdm(images.split(batch_size), desc="scoring", leave=False)]
    return torch.cat(parts).double().numpy()


def _label(sets: Sequence[ImageSet], key: str, images: torch.Tensor) -> np.ndarray:
    """A label over all sets: from the sets' labels when every set has it, else measured from pixels."""
    if all(key in s.labels for s in sets):
        return np.concatenate([s.labels[key] for s in sets])
    if key in MEASURED_FACTORS:
        return measure(images)[key].double().numpy()
    have = sorted(set.intersection(*(set(s.labels) for s in sets)))
    raise ConfigError(f"label {key!r} is not known for every group; labels all groups have: {have or 'none'}; "
                      f"measurable factors: {list(MEASURED_FACTORS)}.")


def assign_groups(sets: Sequence[ImageSet], images: torch.Tensor, settings: DisparitySettings) -> tuple[np.ndarray, list[str]]:
    """Group index per image and the group names: the sources themselves, the class, or a binned factor."""
    if settings.group_by == "source":
        return np.concatenate([np.full(len(s), i) for i, s in enumerate(sets)]), [s.name for s in sets]
    values = _label(sets, settings.group_by, images)
    if settings.group_by == "class_id":
        ids = values.astype(int)
        return ids, [SHAPE_NAMES[c] if c < len(SHAPE_NAMES) else str(c) for c in range(int(ids.max()) + 1)]
    edges = settings.bins or (HUE_BINS if settings.group_by == "hue" else None)
    if edges is None or len(edges) < 3:
        raise ConfigError(f"group_by={settings.group_by!r} needs disparity.bins: at least three edges (two groups), "
                          f"got {edges}.")
    names = settings.bin_names or (HUE_NAMES if settings.group_by == "hue" and settings.bins is None else
                                   tuple(f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])))
    if len(names) != len(edges) - 1:
        raise ConfigError(f"disparity.bin_names has {len(names)} names for {len(edges) - 1} bins.")
    return np.clip(np.digitize(values, edges[1:-1]), 0, len(edges) - 2), list(names)


def _rate(values: np.ndarray) -> float:
    """Mean of a boolean or numeric array, NaN when empty."""
    return float(values.mean()) if len(values) else float("nan")


def group_metrics(scores: np.ndarray, truth: np.ndarray | None, threshold: float) -> dict[str, float]:
    """One group's numbers: n, mean score, positive rate and, with truth, MAE, signed error, TPR, FPR, accuracy."""
    decision = scores > threshold
    out = {"n": len(scores), "mean_score": float(scores.mean()), "positive_rate": _rate(decision)}
    if truth is not None:
        actual = truth > threshold
        out.update({"mae": float(np.abs(scores - truth).mean()), "mean_error": float((scores - truth).mean()),
                    "tpr": _rate(decision[actual]), "fpr": _rate(decision[~actual]),
                    "accuracy": _rate(decision == actual)})
    return out


def _gap(metric_values: list[float]) -> float:
    """Largest minus smallest value (NaN values ignored)."""
    v = np.asarray(metric_values, float)
    v = v[np.isfinite(v)]
    return float(v.max() - v.min()) if len(v) > 1 else float("nan")


def largest_gap(per_group: list[np.ndarray], names: list[str], settings: DisparitySettings,
                rng: np.random.Generator) -> dict[str, Any]:
    """Highest minus lowest group mean of per-image values, its bootstrap interval and its permutation p-value.

    The interval is that of the difference between the two groups picked on the full data; the permutation test
    redoes the picking, so it is the fair test when many groups are compared.
    """
    means = [float(v.mean()) for v in per_group]
    top, bottom = int(np.argmax(means)), int(np.argmin(means))
    draws = bootstrap_stat([per_group[top], per_group[bottom]], lambda g: g[0].mean() - g[1].mean(),
                           settings.resamples, rng)
    low, high = percentile_interval(draws)
    p = permutation_p_value(per_group, lambda g: _gap([x.mean() for x in g]), settings.permutations, rng)
    return {"highest": names[top], "lowest": names[bottom], "gap": means[top] - means[bottom], "interval": [low, high],
            "excludes_zero": bool(low > 0 or high < 0), "permutation_p": p}


def rate_gap(decisions: list[np.ndarray], names: list[str], settings: DisparitySettings,
             rng: np.random.Generator) -> dict[str, Any]:
    """Largest gap of a rate (TPR or FPR) across groups with data, with the same interval and test."""
    kept = [(d.astype(float), n) for d, n in zip(decisions, names) if len(d) >= MIN_PER_GROUP]
    if len(kept) < 2:
        return {"gap": float("nan"), "note": "fewer than two groups with enough positives or negatives"}
    return largest_gap([d for d, _ in kept], [n for _, n in kept], settings, rng)


def independence(decisions: list[np.ndarray], names: list[str], settings: DisparitySettings,
                 rng: np.random.Generator) -> dict[str, Any]:
    """Ratio min/max of P{score > t | group} with its bootstrap interval, and the 80% rule verdict."""

    def ratio(groups: list[np.ndarray]) -> float:
        rates = np.array([g.mean() for g in groups])
        return float(rates.min() / rates.max()) if rates.max() > 0 else float("nan")

    rates = [float(d.mean()) for d in decisions]
    value = ratio([d.astype(float) for d in decisions])
    low, high = percentile_interval(bootstrap_stat([d.astype(float) for d in decisions], ratio, settings.resamples, rng))
    return {"positive_rates": dict(zip(names, rates)), "ratio": value, "interval": [low, high],
            "lowest": names[int(np.argmin(rates))], "highest": names[int(np.argmax(rates))],
            "passes_80_percent_rule": bool(value >= FOUR_FIFTHS)}


def disparity(sets: Sequence[ImageSet], assessor: torch.nn.Module, settings: DisparitySettings = DisparitySettings(),
              seed: int = 0, assessor_name: str = "assessor") -> dict[str, Any]:
    """The assessor's per-group numbers, the largest gap, independence and (with truth) separation."""
    images = torch.cat([s.images for s in sets])
    groups, names = assign_groups(sets, images, settings)
    small = [names[g] for g in range(len(names)) if (groups == g).sum() < MIN_PER_GROUP]
    if small:
        raise ConfigError(f"group(s) {small} hold fewer than {MIN_PER_GROUP} images under group_by="
                          f"{settings.group_by!r}; use fewer bins, more images (n=...) or other bin edges.")
    scores = score_images(assessor, images, settings.batch_size)
    truth = None if settings.truth is None else _label(sets, settings.truth, images).astype(float)
    threshold = float(np.median(scores)) if settings.threshold is None else float(settings.threshold)
    rng = np.random.default_rng(seed)
    idx = [np.flatnonzero(groups == g) for g in range(len(names))]
    per_group = {n: group_metrics(scores[i], None if truth is None else truth[i], threshold) for n, i in zip(names, idx)}
    headline = "mae" if truth is not None else "mean_score"
    values = [np.abs(scores[i] - truth[i]) if truth is not None else scores[i] for i in idx]
    decisions = [scores[i] > threshold for i in idx]
    result = {"assessor": assessor_name, "groups": names, "group_by": settings.group_by, "truth": settings.truth,
              "threshold": threshold, "overall": group_metrics(scores, truth, threshold), "per_group": per_group,
              "headline_metric": headline, "largest_gap": largest_gap(values, names, settings, rng),
              "independence": independence(decisions, names, settings, rng), "seed": seed,
              "resamples": settings.resamples, "permutations": settings.permutations}
    if truth is not None:
        positives = [(scores[i] > threshold)[truth[i] > threshold] for i in idx]
        negatives = [(scores[i] > threshold)[truth[i] <= threshold] for i in idx]
        result["separation"] = {"tpr_gap": rate_gap(positives, names, settings, rng),
                                "fpr_gap": rate_gap(negatives, names, settings, rng)}
    result["intervals"] = group_intervals(values, decisions, names, settings, rng)
    return result


def group_intervals(values: list[np.ndarray], decisions: list[np.ndarray], names: list[str],
                    settings: DisparitySettings, rng: np.random.Generator) -> dict[str, dict[str, list[float]]]:
    """Bootstrap intervals of each group's headline metric and positive rate (for the bar plot and the CSV)."""
    out = {}
    for v, d, n in zip(values, decisions, names):
        out[n] = {"headline": list(percentile_interval(bootstrap_stat([v], lambda g: g[0].mean(), settings.resamples, rng))),
                  "positive_rate": list(percentile_interval(
                      bootstrap_stat([d.astype(float)], lambda g: g[0].mean(), settings.resamples, rng)))}
    return out


METRIC_LABELS = {"n": "images", "mean_score": "mean score", "positive_rate": "P{score > t}", "mae": "mean abs. error",
                 "mean_error": "mean signed error", "tpr": "TPR", "fpr": "FPR", "accuracy": "accuracy of score > t"}


def gender_shades_table(result: dict[str, Any]) -> str:
    """Markdown table: one row per metric, columns All, each group, and the largest gap (Gender Shades layout)."""
    names = result["groups"]
    metrics = [m for m in METRIC_LABELS if m in result["overall"]]
    head = f"| {result['assessor']} | All | " + " | ".join(names) + " | largest gap |"
    lines = [head, "|" + "---|" * (len(names) + 3)]
    for m in metrics:
        vals = [result["per_group"][n][m] for n in names]
        fmt = (lambda v: f"{int(v)}") if m == "n" else (lambda v: f"{v:.4g}")
        gap = "" if m == "n" else f"{_gap(vals):.4g}"
        lines.append(f"| {METRIC_LABELS[m]} | {fmt(result['overall'][m])} | " + " | ".join(fmt(v) for v in vals)
                     + f" | {gap} |")
    g = result["largest_gap"]
    ind = result["independence"]
    lines += ["", f"Largest gap in {METRIC_LABELS[result['headline_metric']]}: {g['highest']} - {g['lowest']} = "
              f"{g['gap']:.4g}, 95% bootstrap interval [{g['interval'][0]:.4g}, {g['interval'][1]:.4g}] "
              f"({'excludes' if g['excludes_zero'] else 'includes'} 0), permutation p = {g['permutation_p']:.3g}.",
              f"Independence at t = {result['threshold']:.4g}: min/max positive rate = {ind['ratio']:.3f} "
              f"[{ind['interval'][0]:.3f}, {ind['interval'][1]:.3f}] ({ind['lowest']} / {ind['highest']}); "
              f"80% rule: {'passes' if ind['passes_80_percent_rule'] else 'FAILS'}."]
    return "\n".join(lines) + "\n"


def group_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per group (plus All): every metric, with the bootstrap intervals of the headline and rate."""
    rows = []
    for n in result["groups"]:
        iv = result["intervals"][n]
        rows.append({"group": n, **result["per_group"][n], "headline_low": iv["headline"][0],
                     "headline_high": iv["headline"][1], "positive_rate_low": iv["positive_rate"][0],
                     "positive_rate_high": iv["positive_rate"][1]})
    rows.append({"group": "All", **result["overall"]})
    return rows


def plot_disparity(result: dict[str, Any], path: str | Path) -> Path:
    """Two bar panels with 95% intervals: the headline metric per group, and P{score > t} with the 80% line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganalyze.figures import save_figure

    names = result["groups"]
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.4 * len(names), 4))
    for ax, key, ylabel in ((axes[0], "headline", METRIC_LABELS[result["headline_metric"]]),
                            (axes[1], "positive_rate", f"P{{score > {result['threshold']:.3g}}}")):
        metric = result["headline_metric"] if key == "headline" else "positive_rate"
        vals = np.array([result["per_group"][n][metric] for n in names])
        iv = np.array([result["intervals"][n][key] for n in names])
        ax.bar(x, vals, color="tab:blue", alpha=0.8)
        ax.errorbar(x, vals, yerr=[vals - iv[:, 0], iv[:, 1] - vals], fmt="none", ecolor="black", capsize=4,
                    label="95% bootstrap interval")
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set(ylabel=ylabel, xlabel=f"group ({result['group_by']})")
    top = max(result["independence"]["positive_rates"].values())
    axes[1].axhline(FOUR_FIFTHS * top, color="tab:red", ls="--", label="80% of the highest rate")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    g, ind = result["largest_gap"], result["independence"]
    axes[0].set_title(f"gap {g['highest']} - {g['lowest']} = {g['gap']:.3g}\n[{g['interval'][0]:.3g}, {g['interval'][1]:.3g}], "
                      f"perm. p = {g['permutation_p']:.2g}", fontsize=9)
    axes[1].set_title(f"independence ratio {ind['ratio']:.2f} [{ind['interval'][0]:.2f}, {ind['interval'][1]:.2f}]: "
                      f"80% rule {'passes' if ind['passes_80_percent_rule'] else 'fails'}", fontsize=9)
    fig.suptitle(f"Disparity of assessor '{result['assessor']}' across groups ({len(names)} groups, "
                 f"{result['overall']['n']} images)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
