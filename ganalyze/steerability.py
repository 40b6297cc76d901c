"""Steerability: the transformation a trained walk actually achieves, measured from pixels, against the α asked for.

For every held-out seed and every α of a grid that spans and exceeds the trained range, the walked image
G(T(z, α), y) is compared with the unwalked G(z, y) by a *meter* (the shapes world's exact pixel measurement,
or a generic foreground mask for other generators) and turned into the edit's own units:

- zoom: half the log2 of the object's area ratio (= log2 of its linear scale), shift: centroid change in pixels,
- rotate: the angle that best maps the unwalked foreground onto the walked one (a search over angles),
- brightness / colour: change of the image's mean intensity / of each channel's mean,
- hue: change of the object's hue (degrees, wrapped to ±180).

The summary per slider holds, inside the trained range, the Spearman ρ of α against the achieved change and of
α against each measured factor's change from α = 0 (per seed), and the *limit*: the first α of the grid, on each
side, where the median of achieved / requested falls below 0.5.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from assessors.saliency import foreground_mask
from ganalyze.atomic import atomic_open, write_json, write_with
from ganalyze.figures import save_figure
from ganalyze.edits import Edit, get_edit, rotate
from ganalyze.errors import ConfigError
from ganalyze.evaluation import EvalSettings, alpha_grid, slider_alpha
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.sampling import held_out_seeds, latents_for_seeds
from ganalyze.world.measure import coverage_map, measure, rgb_hue

Meter = Callable[[torch.Tensor], dict[str, torch.Tensor]]
LIMIT_RATIO = 0.5  # the walk's limit: where it achieves less than half of what is asked
CHANNELS = ("r", "g", "b")


def _pixel_stats(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Generator-independent measures: the mean of each channel and of all of them."""
    means = images.mean(dim=(2, 3))
    out = {f"mean_{c}": means[:, i] for i, c in enumerate(CHANNELS)}
    out["mean_brightness"] = means.mean(dim=1)
    return out


def _centroid(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask-weighted centroid (x, y) as fractions of width and height; 0.5 for an empty mask."""
    _, h, w = mask.shape
    mass = mask.sum(dim=(1, 2))
    xs = (torch.arange(w, dtype=mask.dtype) + 0.5) / w
    ys = (torch.arange(h, dtype=mask.dtype) + 0.5) / h
    x = (mask * xs.view(1, 1, w)).sum(dim=(1, 2)) / mass.clamp_min(1e-12)
    y = (mask * ys.view(1, h, 1)).sum(dim=(1, 2)) / mass.clamp_min(1e-12)
    empty = mass <= 0
    return torch.where(empty, torch.full_like(x, 0.5), x), torch.where(empty, torch.full_like(y, 0.5), y)


def world_meter(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The shapes world's exact pixel measurement (size, x, y, hue, brightnesses) plus its coverage map."""
    images = images.detach().float().clamp(0.0, 1.0)
    return {**measure(images), "foreground": coverage_map(images)[0], **_pixel_stats(images)}


def _mean_hue(images: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Circular mean of the per-pixel hue (degrees), weighted by ``weight`` (N, H, W) times chroma."""
    angle = torch.deg2rad(rgb_hue(images))
    w = weight * (images.amax(1) - images.amin(1))
    return torch.remainder(torch.rad2deg(torch.atan2((w * angle.sin()).sum((1, 2)), (w * angle.cos()).sum((1, 2)))), 360.0)


def generic_meter(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Any generator: the object-size assessor's soft foreground mask gives area, centroid and object hue."""
    images = images.detach().float().clamp(0.0, 1.0)
    mask = foreground_mask(images)
    x, y = _centroid(mask)
    return {"size": mask.mean(dim=(1, 2)), "x": x, "y": y, "hue": _mean_hue(images, mask), "foreground": mask,
            **_pixel_stats(images)}


METERS: dict[str, Meter] = {"world": world_meter, "generic": generic_meter}


def best_rotation(before: torch.Tensor, after: torch.Tensor, search: float = 90.0, step: float = 1.0) -> torch.Tensor:
    """Angle in degrees (in [-search, search]) by which ``before`` (N, H, W) best rotates onto ``after``.

    Rotations of a shape by its symmetry angle look the same, so the answer is only unique within
    ± half that angle (e.g. ±45° for a square); circles have no measurable rotation.
    """
    angles = torch.arange(-search, search + step / 2, step, dtype=before.dtype)
    angles = angles[angles.abs().argsort(stable=True)]  # smallest |angle| first: ties keep the smallest turn
    best_err = torch.full((len(before),), math.inf, dtype=before.dtype)
    best = torch.zeros(len(before), dtype=before.dtype)
    src = before[:, None]
    for angle in angles:
        turned, valid = rotate(src, float(angle))
        err = (((turned - after[:, None]) ** 2) * valid).sum(dim=(1, 2, 3)) / valid.sum(dim=(1, 2, 3)).clamp_min(1.0)
        better = err < best_err - 1e-9
        best_err = torch.where(better, err, best_err)
        best = torch.where(better, angle.expand_as(best), best)
    return best


def achieved(edit: str, before: dict[str, torch.Tensor], after: dict[str, torch.Tensor],
             resolution: tuple[int, int]) -> torch.Tensor:
    """The edit that took ``before`` to ``after``, in the edit's α units: (N,), or (N, 3) for colour."""
    h, w = resolution
    if edit == "zoom":
        return 0.5 * torch.log2(after["size"].clamp_min(1e-8) / before["size"].clamp_min(1e-8))
    if edit == "shift_x":
        return (after["x"] - before["x"]) * w
    if edit == "shift_y":
        return (after["y"] - before["y"]) * h
    if edit == "rotate":
        return best_rotation(before["foreground"], after["foreground"])
    if edit == "brightness":
        return after["mean_brightness"] - before["mean_brightness"]
    if edit == "color":
        return torch.stack([after[f"mean_{c}"] - before[f"mean_{c}"] for c in CHANNELS], dim=1)
    if edit == "hue":
        return torch.remainder(after["hue"] - before["hue"] + 180.0, 360.0) - 180.0
    raise ConfigError(f"no steerability measure for edit {edit!r}.")


@dataclass
class SteerabilityResult:
    """Per-image rows (seed, slider, α, achieved, factors and their change from α = 0) and a summary."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    grids: dict[str, torch.Tensor] = field(default_factory=dict)  # slider -> (seeds, len(alphas), 3, H, W)


def _walk(generator: torch.nn.Module, transformer: torch.nn.Module, z: torch.Tensor, y: torch.Tensor,
          alpha: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Images G(T(z, α, y), y) in batches, without gradients."""
    out = []
    with torch.no_grad():
        for i in range(0, len(z), batch_size):
            sl = slice(i, i + batch_size)
            out.append(generator(transformer(z[sl], alpha[sl], y[sl]), y[sl]).float())
    return torch.cat(out)


def steerability_rows(generator: torch.nn.Module, transformer: torch.nn.Module, edit: Edit, z: torch.Tensor,
                      y: torch.Tensor, alphas: Sequence[float], meter: Meter, batch_size: int = 100,
                      grid_seeds: int = 8) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    """Walk every latent over ``alphas`` on each slider, measure; return rows and image grids per slider."""
    if 0.0 not in alphas:
        raise ConfigError(f"the α grid must contain 0 (the unwalked image), got {list(alphas)}.")
    n, res = len(z), (generator.resolution, generator.resolution)
    sliders = ["all"] if edit.alpha_dim == 1 else list(CHANNELS[: edit.alpha_dim])
    rows: list[dict[str, Any]] = []
    grids: dict[str, torch.Tensor] = {}
    x0 = _walk(generator, transformer, z, y, slider_alpha(0.0, n, edit.alpha_dim, 0, z.device), batch_size)
    base = meter(x0)
    scalar_keys = [k for k, v in base.items() if v.dim() == 1]
    for k, slider in enumerate(sliders):
        frames = []
        for alpha in tqdm(alphas, desc=f"steerability {edit.name}[{slider}]", leave=False):
            xa = x0 if alpha == 0 else _walk(generator, transformer, z, y,
                                             slider_alpha(alpha, n, edit.alpha_dim, k, z.device), batch_size)
            after = meter(xa)
            got = achieved(edit.name, base, after, res)
            got = got if got.dim() == 1 else got[:, k]
            ideal_images, _ = edit.apply(x0, slider_alpha(alpha, n, edit.alpha_dim, k, z.device))
            ideal = achieved(edit.name, base, meter(ideal_images), res)
            ideal = ideal if ideal.dim() == 1 else ideal[:, k]
            frames.append(xa[:grid_seeds])
            for i in range(n):
                row = {"seed_index": i, "class": int(y[i]), "slider": slider, "alpha": float(alpha),
                       "achieved": float(got[i]), "edit_achieved": float(ideal[i])}
                row.update({key: float(after[key][i]) for key in scalar_keys})
                row.update({f"d_{key}": float(after[key][i] - base[key][i]) for key in scalar_keys})
                rows.append(row)
        grids[slider] = torch.stack(frames, dim=1)
    return rows, grids


def steerability_limit(alphas: Sequence[float], ratios: Sequence[float], sign: int) -> float | None:
    """The first α on the ``sign`` side of 0 (going outward) where achieved/requested < LIMIT_RATIO; None if none."""
    side = sorted(((a, r) for a, r in zip(alphas, ratios) if a * sign > 0), key=lambda p: abs(p[0]))
    for alpha, ratio in side:
        if not ratio >= LIMIT_RATIO:  # NaN counts as failing
            return float(alpha)
    return None


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman ρ, NaN when either side is constant."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def summarise(rows: list[dict[str, Any]], trained_range: tuple[float, float], edit: Edit) -> dict[str, Any]:
    """Per slider: per-α medians and ratios, ρ and slope inside the trained range, the limits, factor ρ's."""
    low, high = trained_range
    out: dict[str, Any] = {"edit": edit.name, "unit": edit.unit, "trained_range": [low, high],
                           "limit_ratio": LIMIT_RATIO, "sliders": {}}
    for slider in dict.fromkeys(r["slider"] for r in rows):
        mine = [r for r in rows if r["slider"] == slider]
        alpha = np.array([r["alpha"] for r in mine])
        got = np.array([r["achieved"] for r in mine])
        alphas = sorted(set(alpha.tolist()))
        per_alpha = []
        for a in alphas:
            g = got[alpha == a]
            ratio = float(np.median(g / a)) if a != 0 else float("nan")
            per_alpha.append({"alpha": a, "median": float(np.median(g)), "mean": float(g.mean()),
                              "std": float(g.std()), "q25": float(np.quantile(g, 0.25)),
                              "q75": float(np.quantile(g, 0.75)), "median_ratio": ratio})
        inside = (alpha >= low - 1e-9) & (alpha <= high + 1e-9)
        factor_keys = [k[2:] for k in mine[0] if k.startswith("d_")]
        seeds = np.array([r["seed_index"] for r in mine])
        out["sliders"][slider] = {
            "spearman_rho": _spearman(alpha[inside], got[inside]),
            "slope": float(np.polyfit(alpha[inside], got[inside], 1)[0]) if np.ptp(alpha[inside]) > 0 else float("nan"),
            "monotonic_fraction": _monotonic_fraction(seeds[inside], alpha[inside], got[inside]),
            "limit_low": steerability_limit(alphas, [p["median_ratio"] for p in per_alpha], -1),
            "limit_high": steerability_limit(alphas, [p["median_ratio"] for p in per_alpha], +1),
            "factor_spearman_rho": {
                k: _spearman(alpha[inside], np.array([r[f"d_{k}"] for r in mine])[inside]) for k in factor_keys
            },
            "per_alpha": per_alpha,
        }
    return out


def _monotonic_fraction(seeds: np.ndarray, alpha: np.ndarray, got: np.ndarray) -> float:
    """Share of seeds whose achieved value never decreases as α grows."""
    flags = []
    for s in np.unique(seeds):
        order = np.argsort(alpha[seeds == s])
        flags.append(bool(np.all(np.diff(got[seeds == s][order]) >= 0)))
    return float(np.mean(flags)) if flags else float("nan")


def choose_meter(generator: torch.nn.Module, world: str | bool = "auto") -> str:
    """``world`` for the shapes generator (or when asked), else ``generic``; same rule as the main evaluation."""
    if world is True or (world == "auto" and isinstance(generator, ShapesGenerator)):
        return "world"
    return "generic"


def evaluate_steerability(generator: torch.nn.Module, transformer: torch.nn.Module, edit: Edit,
                          trained_range: tuple[float, float], alphas: Sequence[float] | None = None,
                          num_seeds: int = 200, classes: Sequence[int] | None = None, meter: str = "world",
                          batch_size: int = 100, grid_seeds: int = 8) -> SteerabilityResult:
    """Walk the first ``num_seeds`` held-out seeds over an α grid (default: twice the trained range) and summarise."""
    if meter not in METERS:
        raise ConfigError(f"unknown steerability meter {meter!r}; choose one of {', '.join(sorted(METERS))}.")
    if num_seeds <= 0:
        raise ConfigError(f"num_seeds must be a positive number of held-out latents, got {num_seeds}.")
    grid = [float(a) for a in (alpha_grid(trained_range, 2.0, 17) if alphas is None else alphas)]
    z, y = latents_for_seeds(generator, held_out_seeds(num_seeds), classes)
    rows, grids = steerability_rows(generator, transformer, edit, z, y, grid, METERS[meter], batch_size, grid_seeds)
    summary = summarise(rows, trained_range, edit)
    summary.update({"num_seeds": num_seeds, "meter": meter, "alphas": grid})
    return SteerabilityResult(rows, summary, grids)


def headline(summary: dict[str, Any]) -> dict[str, float]:
    """Flat numbers per slider for logs: ρ, slope, monotonic share, limits (NaN when beyond the grid), factor ρ's."""
    flat: dict[str, float] = {}
    for slider, info in summary["sliders"].items():
        for key in ("spearman_rho", "slope", "monotonic_fraction", "limit_low", "limit_high"):
            flat[f"{slider}/{key}"] = float("nan") if info[key] is None else float(info[key])
        flat.update({f"{slider}/{k}_spearman_rho": v for k, v in info["factor_spearman_rho"].items()})
    return flat


def run_steerability(edit_name: str, trained: tuple[float, float], settings: EvalSettings, grid_seeds: int,
                     generator: torch.nn.Module, transformer: torch.nn.Module, run_dir: Path,
                     logger: Any) -> SteerabilityResult:
    """The steerability part of a run's evaluation (edit objectives): into <run_dir>/eval/steerability, and logged."""
    edit = get_edit(edit_name)
    alphas = alpha_grid(trained, settings.alpha_scale, settings.num_alphas)
    result = evaluate_steerability(generator, transformer, edit, trained, alphas, settings.num_seeds, settings.classes,
                                   choose_meter(generator, settings.world), settings.batch_size, grid_seeds)
    out = Path(run_dir) / "eval" / "steerability"
    paths = save_steerability(result, out, class_names=getattr(generator, "class_names", None),
                              generator=getattr(generator, "name", type(generator).__name__))
    logger.log_images({f"steerability/{k}": v for k, v in paths.items() if v.suffix == ".png"})
    logger.log_metrics({f"steerability/{k}": v for k, v in headline(result.summary).items()})
    logger.log_table("steerability/per_alpha", ["slider", "alpha", "median_achieved", "median_ratio"],
                     [[slider, p["alpha"], p["median"], p["median_ratio"]]
                      for slider, info in result.summary["sliders"].items() for p in info["per_alpha"]])
    for slider, info in result.summary["sliders"].items():
        limits = [("beyond grid" if v is None else f"{v:g}") for v in (info["limit_low"], info["limit_high"])]
        print(f"steerability {edit.name}[{slider}]: spearman={info['spearman_rho']:.3f} slope={info['slope']:.3f} "
              f"monotonic={info['monotonic_fraction']:.2f} limits={limits[0]} / {limits[1]} ({edit.unit})")
    print(f"steerability written to {out}")
    return result


def save_steerability(result: SteerabilityResult, folder: str | os.PathLike, class_names: Sequence[str] | None = None,
                      generator: str | None = None) -> dict[str, Path]:
    """Write rows (CSV), summary (JSON), achieved-vs-requested curves and image grids (PNG) into ``folder``;
    ``class_names`` label the grids' rows and ``generator`` names the generator in the figure titles."""
    folder = Path(folder)
    paths = {"table": folder / "steerability.csv", "summary": folder / "steerability.json",
             "curves": folder / "steerability_curves.png"}
    with atomic_open(paths["table"], "w") as f:
        writer = csv.DictWriter(f, fieldnames=list(result.rows[0]))
        writer.writeheader()
        writer.writerows(result.rows)
    write_json(paths["summary"], result.summary)
    plot_curves(result.rows, result.summary, paths["curves"], generator=generator)
    for slider, frames in result.grids.items():
        paths[f"grid_{slider}"] = plot_grid(frames, result.summary["alphas"], folder / f"steerability_grid_{slider}.png",
                                            grid_title(result.summary, slider, generator),
                                            **grid_annotations(result, slider, len(frames), class_names))
    return paths


def _walk_name(summary: dict[str, Any], slider: str, generator: str | None) -> str:
    """"a walk trained for objective=zoom [all] in shapes": what a steerability figure shows."""
    on = f" in {generator}" if generator else ""
    return f"walk trained for objective={summary['edit']} [{slider}]{on}"


def plot_curves(rows: list[dict[str, Any]], summary: dict[str, Any], path: Path, generator: str | None = None) -> Path:
    """Achieved vs requested α per slider: median with the quartile band, the edit's own result, identity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    sliders = list(summary["sliders"])
    fig, axes = plt.subplots(1, len(sliders), figsize=(4.4 * len(sliders), 4.2), squeeze=False)
    low, high = summary["trained_range"]
    for ax, slider in zip(axes[0], sliders):
        info = summary["sliders"][slider]
        pa = info["per_alpha"]
        a = np.array([p["alpha"] for p in pa])
        ideal = [np.median([r["edit_achieved"] for r in rows if r["slider"] == slider and r["alpha"] == x]) for x in a]
        ax.axvspan(low, high, color="0.92", label=f"trained range [{low:g}, {high:g}]")
        ax.plot(a, a, color="0.5", lw=1, ls=":", label="requested (achieved = α)")
        ax.plot(a, ideal, color="tab:green", lw=1, ls="--", label="the edit itself on G(z)")
        ax.fill_between(a, [p["q25"] for p in pa], [p["q75"] for p in pa], color="tab:blue", alpha=0.25,
                        label="walk: 25th–75th percentile")
        ax.plot(a, [p["median"] for p in pa], color="tab:blue", marker="o", ms=3, label="walk: median over seeds")
        limits = [info[key] for key in ("limit_low", "limit_high") if info[key] is not None]
        for k, limit in enumerate(limits):
            ax.axvline(limit, color="tab:red", lw=1, ls="--",
                       label=f"limit: achieved < {summary['limit_ratio']:g} × requested" if k == 0 else None)
        ax.set_title(f"{summary['edit']} [{slider}]: ρ={info['spearman_rho']:.3f} in the trained range", fontsize=9)
        ax.set_xlabel(f"requested α ({summary['unit']})")
        ax.set_ylabel(f"achieved, measured from pixels ({summary['unit']})")
        ax.legend(fontsize=6, loc="upper left")
    on = f" in {generator}" if generator else ""
    fig.suptitle(f"Steerability of the walk trained for objective={summary['edit']}{on}\n"
                 f"{summary.get('num_seeds', '')} held-out seeds, achieved edit measured from pixels", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return save_figure(fig, path)


def grid_title(summary: dict[str, Any], slider: str, generator: str | None = None) -> str:
    """The title of a steerability grid: the walk shown and what the rows are."""
    return f"Steerability: {_walk_name(summary, slider, generator)}; rows = held-out seeds"


def grid_annotations(result: SteerabilityResult, slider: str, num_rows: int,
                     class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """plot_grid's labels for one slider: each image's achieved amount, row labels with classes, the trained range."""
    alphas = [float(a) for a in result.summary["alphas"]]
    column = {a: j for j, a in enumerate(alphas)}
    achieved_values = np.full((num_rows, len(alphas)), np.nan)
    classes: dict[int, int] = {}
    for r in result.rows:
        if r["slider"] == slider and r["seed_index"] < num_rows:
            achieved_values[r["seed_index"], column[float(r["alpha"])]] = r["achieved"]
            classes[r["seed_index"]] = int(r["class"])
    labels = [f"#{i} {class_names[classes[i]] if class_names else f'class {classes[i]}'}" for i in range(num_rows)]
    return {"achieved": achieved_values, "row_labels": labels,
            "trained_range": tuple(result.summary["trained_range"]), "unit": result.summary["unit"]}


def plot_grid(frames: torch.Tensor, alphas: Sequence[float], path: Path, title: str,
              achieved: np.ndarray | None = None, row_labels: Sequence[str] | None = None,
              trained_range: tuple[float, float] | None = None, unit: str | None = None) -> Path:
    """Rows = seeds, columns = α from less to more, labelled with α; each image carries the ``achieved``
    amount of the edit (the objective's own quantity, measured from pixels) and the trained columns are framed."""
    from ganalyze.visuals import image_grid

    labels = list(row_labels) if row_labels is not None else [f"#{i}" for i in range(len(frames))]
    what = f"achieved edit measured from pixels ({unit})" if unit else "achieved edit measured from pixels"
    picture = image_grid(frames, achieved, alphas, labels, title, trained_range=trained_range,
                         score_label=what if achieved is not None else None, number_format="+.3g")
    write_with(path, lambda handle: picture.save(handle, format="PNG"))
    return Path(path)
