"""Projection report: for every ordered pair (source, target) of a model's world data sets, how far projected
images take on the target's biases and keep their content, judged from pixels only.

Held-out world images of the source are projected onto the target and measured with the world's pixel
measurement (size, centroid, hue, brightnesses) and the sharpness (mean absolute Laplacian: blur lowers it,
noise raises it), both independent of the model; real target images are measured the same way. Per factor:
the 1-Wasserstein distance of projected to real target images in units of the target's σ (hue on the
circle), and the Spearman rank correlation between each source image's factor and its projection's (content
kept); and the share of projections whose shape class (the shipped classifier, trained on real images) is
the source image's. The shipped classifier saw clean images only and names the shape of few real low-quality
ones, so for a degraded target the class is judged by a second classifier trained on real images of that
target (``degraded_judge``) when one is given; each judge's accuracy on real images of every data set is reported. Bars (issue 24): every factor the target constrains within W1 ≤ 0.25σ, shape class kept
≥ 90%, rank correlation ≥ 0.8 for every factor both data sets vary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from ganalyze.atomic import write_json, write_text
from ganalyze.audit.name_that_dataset import measured_factors
from ganalyze.errors import ConfigError
from ganalyze.projection.model import ProjectionModel
from ganalyze.projection.project import projection_grid, save_grid
from ganalyze.world import MEASURED_FACTORS, list_variants, load_variant
from ganalyze.world.classifier import ShapeClassifier
from ganalyze.world.quality import factor_distances

W1_BAR = 0.25
CLASS_BAR = 0.9
RANK_BAR = 0.8
BATCH = 250
REFERENCE = "broad"  # the unbiased world: a data set constrains the factors whose spread differs from broad's
STRIP_ROWS = 8
SPREAD_RATIO = 0.75
MEAN_SHIFT = 0.25
HUE_CUTS = 72


def constrained_factors(name: str) -> list[str]:
    """The factors world variant ``name`` constrains: those whose σ is under SPREAD_RATIO of the broad world's or
    whose mean is off broad's by over MEAN_SHIFT of its σ, and the sharpness for a degraded (low-quality) variant.
    (A narrow size range changes the centroid's σ by 3% only, through where objects fit: not a constraint.)"""
    variant, stats, broad = load_variant(name), load_variant(name).factor_stats(), load_variant(REFERENCE).factor_stats()
    factors = [f for f in MEASURED_FACTORS if stats[f][1] < SPREAD_RATIO * broad[f][1]
               or abs(stats[f][0] - broad[f][0]) > MEAN_SHIFT * broad[f][1]]
    return factors + (["sharpness"] if variant.degradation is not None else [])


def varied_factors(a: str, b: str) -> list[str]:
    """Measured factors with a spread (σ > 0) in both world variants: the content a projection should keep."""
    sa, sb = load_variant(a).factor_stats(), load_variant(b).factor_stats()
    return [f for f in MEASURED_FACTORS if sa[f][1] > 0 and sb[f][1] > 0]


def cut_open(hue: np.ndarray, at: float) -> np.ndarray:
    """Hues (degrees) as numbers in [0, 360) counted from ``at``: the circle cut open there."""
    return (hue - at) % 360.0


def widest_gap_cut(hue: np.ndarray) -> float:
    """The middle of the widest arc no hue falls in: where a sample of hues is cut open without splitting it."""
    pooled = np.sort(hue % 360.0)
    gaps = np.diff(np.concatenate([pooled, [pooled[0] + 360.0]]))
    return float((pooled[gaps.argmax()] + gaps.max() / 2) % 360.0)


def rank_correlation(factor: str, source: np.ndarray, projected: np.ndarray) -> float:
    """Spearman ρ between a factor of source images and of their projections. A hue circle has no first value:
    the source's hues are cut open at their widest empty arc, the projections' at the one of HUE_CUTS evenly
    spaced places that gives the highest ρ (an order kept around the circle scores ≈ 1 at some cut, a
    scrambled one stays near 0 at every cut, a reversed one at most about 0.5)."""
    if np.ptp(source) == 0 or np.ptp(projected) == 0:
        return float("nan")
    if factor != "hue":
        return float(spearmanr(source, projected).statistic)
    source = cut_open(source, widest_gap_cut(source))
    return max(float(spearmanr(source, cut_open(projected, at)).statistic) for at in np.arange(HUE_CUTS) * 360.0 / HUE_CUTS)


@torch.no_grad()
def project_all(model: ProjectionModel, images: torch.Tensor, source: int, target: int, seed: int) -> torch.Tensor:
    """``images`` of data set ``source`` rendered as ``target``, in batches, with seeded pixel noise."""
    gen = torch.Generator().manual_seed(seed)
    full = lambda n, v: torch.full((n,), v, dtype=torch.long)  # noqa: E731
    return torch.cat([model.project(x, full(len(x), source), full(len(x), target), gen) for x in images.split(BATCH)])


def pair_report(a: str, b: str, source: dict[str, np.ndarray], projected: dict[str, np.ndarray],
                real_target: dict[str, np.ndarray], class_kept: float) -> dict[str, Any]:
    """Per factor W1/σ to the real target and rank correlation to the source; the bars of issue 24."""
    distances = factor_distances(projected, real_target)
    constrained, varied = constrained_factors(b), varied_factors(a, b)
    factors = {f: {"w1_sigma": distances[f]["w1_sigma"], "mean_projected": distances[f]["mean_generated"],
                   "mean_real_target": distances[f]["mean_real"], "sigma_real_target": distances[f]["sigma_real"],
                   "rank_correlation": rank_correlation(f, source[f], projected[f]),
                   "constrained_by_target": f in constrained, "varied_by_both": f in varied}
               for f in projected}
    w1_ok = [factors[f]["w1_sigma"] is not None and factors[f]["w1_sigma"] <= W1_BAR for f in constrained]
    rank_ok = [factors[f]["rank_correlation"] >= RANK_BAR for f in varied]  # NaN fails
    return {"source": a, "target": b, "constrained_factors": constrained, "factors": factors,
            "shape_class_kept": class_kept,
            "bars": {f"constrained_w1<={W1_BAR}sigma": all(w1_ok), f"shape_class_kept>={CLASS_BAR}": class_kept >= CLASS_BAR,
                     f"rank_correlation>={RANK_BAR}": all(rank_ok)}}


def check_world_labels(labels: list[str]) -> None:
    """The report measures world images: every data set of the model must be a world variant."""
    unknown = [name for name in labels if name not in list_variants()]
    if unknown:
        raise ConfigError(f"the projection report draws world images of every data set, but {unknown} are not world "
                          f"variants ({', '.join(list_variants())}); use a model trained on world variants.")


def judge_for(name: str, shapes: ShapeClassifier, degraded_judge: ShapeClassifier | None) -> ShapeClassifier:
    """The classifier that judges the shape class of images of data set ``name``: the degraded-image judge for a
    degraded (low-quality) world variant where one is given, else the shipped one."""
    return degraded_judge if degraded_judge is not None and load_variant(name).degradation is not None else shapes


def projection_report(model: ProjectionModel, shapes: ShapeClassifier, num_images: int, seed: int,
                      out: Path, degraded_judge: ShapeClassifier | None = None) -> dict[str, Any]:
    """Every ordered pair of the model's data sets: report.json, report.md and a strip per source (strip_<a>.png)."""
    labels = model.labels
    check_world_labels(labels)
    resolution = model.autoencoder.resolution
    drawn = {name: load_variant(name).sample(num_images, seed=seed, resolution=resolution) for name in labels}
    real = {name: measured_factors(load_variant(name).sample(num_images, seed=seed + 1, resolution=resolution)[0])
            for name in labels}
    judges = {"shipped": shapes} if degraded_judge is None else {"shipped": shapes, "degraded": degraded_judge}
    judge_accuracy = {judge: {name: float((classifier.predict(images) == truth.class_id).float().mean())
                              for name, (images, truth) in drawn.items()} for judge, classifier in judges.items()}
    pairs, reconstruction_class, reconstruction_w1 = [], {}, {}
    for i, a in enumerate(labels):
        images, truth = drawn[a]
        source = measured_factors(images)
        for j, b in enumerate(labels):
            projected = project_all(model, images, i, j, seed + 1000 * i + j)
            kept = float((judge_for(b, shapes, degraded_judge).predict(projected) == truth.class_id).float().mean())
            if a == b:  # the autoencoder's own floor: real images of b rendered as b
                reconstruction_class[a] = kept
                floor = factor_distances(measured_factors(projected), real[b])
                reconstruction_w1[a] = {f: floor[f]["w1_sigma"] for f in constrained_factors(a)}
                continue
            pairs.append(pair_report(a, b, source, measured_factors(projected), real[b], kept))
        torch.manual_seed(seed + i)  # the strip's pixel noise
        rows = min(STRIP_ROWS, num_images)
        save_grid(projection_grid(model, images[:rows], torch.full((rows,), i)), [f"input ({a})"] + labels,
                  out / f"strip_{a}.png", caption=f"Column 1: real held-out {a} images; other columns: generated by the "
                  "projection model, each input's content rendered as each data set")
    report = {"labels": labels, "num_images": num_images, "seed": seed,
              "bars": {"w1_sigma": W1_BAR, "shape_class_kept": CLASS_BAR, "rank_correlation": RANK_BAR},
              "shape_class_kept_by_reconstruction": reconstruction_class,
              "shape_judge_accuracy_on_real_images": judge_accuracy,  # judge -> data set -> share named right
              "reconstruction_w1_sigma": reconstruction_w1,  # constrained factors of data set a, reconstructed, to real a
              "all_bars_met": all(all(p["bars"].values()) for p in pairs), "pairs": pairs}
    report["summary"] = report_summary(report)
    write_json(out / "report.json", report)
    write_text(out / "report.md", report_table(report) + summary_table(report["summary"]))
    return report


def spread(values: list[float]) -> dict[str, float] | None:
    """Mean, lowest and highest of ``values`` (None for none)."""
    return {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values))} if values else None


def report_summary(report: dict[str, Any]) -> dict[str, Any]:
    """One line per model: per constrained factor the W1/σ over the pairs whose target constrains it, shape class
    kept onto clean and onto degraded targets, and the share of (pair, factor both vary) with rank ρ ≥ RANK_BAR."""
    w1: dict[str, list[float]] = {}
    kept: dict[str, list[float]] = {"clean": [], "degraded": []}
    ranks = []
    for p in report["pairs"]:
        for f in p["constrained_factors"]:
            w1.setdefault("position" if f in ("x", "y") else f, []).append(p["factors"][f]["w1_sigma"])
        kept["degraded" if "sharpness" in p["constrained_factors"] else "clean"].append(p["shape_class_kept"])
        ranks += [v["rank_correlation"] for v in p["factors"].values() if v["varied_by_both"]]
    ranks_found = [r for r in ranks if not np.isnan(r)]
    return {"w1_sigma": {f: spread(v) for f, v in w1.items()},
            "shape_class_kept": {k: spread(v) for k, v in kept.items()},
            "rank_correlation_share_met": float(np.mean([r >= RANK_BAR for r in ranks_found])) if ranks_found else None,
            "rank_correlation_median": float(np.median(ranks_found)) if ranks_found else None,
            "pairs_meeting_all_bars": sum(all(p["bars"].values()) for p in report["pairs"])}


def summary_table(summary: dict[str, Any]) -> str:
    """The summary as a short markdown list."""
    def show(s: dict[str, float] | None, scale: float = 1.0, digits: int = 2) -> str:
        return "–" if s is None else f"{scale * s['mean']:.{digits}f} ({scale * s['min']:.{digits}f}–{scale * s['max']:.{digits}f})"

    lines = [f"- {f} W1/σ: {show(s)}" for f, s in summary["w1_sigma"].items()]
    lines += [f"- shape class kept onto {k} targets (%): {show(s, 100, 1)}" for k, s in summary["shape_class_kept"].items()]
    lines.append(f"- rank ρ ≥ {RANK_BAR}: {summary['rank_correlation_share_met']:.0%} of (pair, factor both vary), "
                 f"median ρ {summary['rank_correlation_median']:.2f}; pairs meeting every bar: {summary['pairs_meeting_all_bars']}")
    return "\n" + "\n".join(lines) + "\n"


def report_table(report: dict[str, Any]) -> str:
    """A markdown table, a row per ordered pair: the constrained factors' W1/σ, the lowest rank correlation over
    the factors both vary (and which), shape class kept, and the bars met."""
    lines = ["| source → target | constrained factor: W1/σ (bar ≤ 0.25) | lowest rank corr. (bar ≥ 0.8) | shape class kept "
             "(bar ≥ 90%) | bars met |", "|---|---|---|---|---|"]
    for p in report["pairs"]:
        w1 = ", ".join(f"{f} {p['factors'][f]['w1_sigma']:.2f}" for f in p["constrained_factors"])
        ranks = {f: v["rank_correlation"] for f, v in p["factors"].items() if v["varied_by_both"]}
        low = min(ranks, key=lambda f: -2.0 if np.isnan(ranks[f]) else ranks[f])
        met = sum(p["bars"].values())
        lines.append(f"| {p['source']} → {p['target']} | {w1} | {low} {ranks[low]:.2f} | "
                     f"{100 * p['shape_class_kept']:.1f}% | {met}/{len(p['bars'])} |")
    return "\n".join(lines) + "\n"
