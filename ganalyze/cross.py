"""The cross-assessor matrix (GANalyze's "Causal?"): every run's direction measured by every run's assessor and,
on the shapes world, by every true factor, on shared held-out seeds.

Each (seed, α) image of a direction is generated once and scored by all assessors. Per entry: slope and Spearman ρ
of the score's change from α = 0 against α over the direction's trained range (``evaluation.change_metrics``),
the slope normalised so the diagonal reads 1 (the change per unit of latent distance walked, divided by that
of the column's own direction, the first run trained with that assessor), and the mean |change| per seed at the
ends of the range (ρ pools seeds, so one moved both ways reads near 0 there but not here). Intervals: percentile bootstrap over
seeds. Random directions of the median step length give the baseline row (mean |value| over the draws).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from ganalyze.atomic import write_json, write_text  # noqa: E402
from ganalyze.figures import save_figure  # noqa: E402
from ganalyze.build import build_assessor, build_generator, plain  # noqa: E402
from ganalyze.checks import whole  # noqa: E402
from ganalyze.errors import ConfigError  # noqa: E402
from ganalyze.evaluation import (CIRCULAR_FACTORS, EvalSettings, WorldTools, alpha_grid, change_from_zero,  # noqa: E402
                                 change_metrics, class_metrics, slider_alpha, sweep, world_tools)
from ganalyze.generators.base import Generator  # noqa: E402
from ganalyze.sampling import held_out_seeds, latents_for_seeds, stream_seed  # noqa: E402
from ganalyze.transformers import LinearTransformer, Transformer, load_transformer  # noqa: E402

RANDOM = "random"


@dataclass
class CrossRun:
    """One trained run as the matrix needs it: label, folder, config, its direction."""

    label: str
    folder: Path
    config: dict[str, Any]
    transformer: Transformer

    @property
    def alpha_range(self) -> tuple[float, float]:
        return tuple(float(v) for v in self.config["train"]["alpha_range"])  # type: ignore[return-value]


def load_cross_run(folder: str | Path) -> CrossRun:
    """Read a run folder (config.yaml + transformer/). Kept in one function so ``ganalyze.load_run`` can replace it."""
    folder = Path(folder)
    if not (folder / "config.yaml").is_file() or not (folder / "transformer").is_dir():
        raise ConfigError(f"{folder} is not a finished run folder: it needs config.yaml and transformer/ "
                          "(give the folders ganalyze-train printed).")
    config = plain(OmegaConf.load(folder / "config.yaml"))
    return CrossRun(folder.name, folder, config, load_transformer(folder / "transformer"))


@dataclass
class Column:
    """What is measured: an assessor (built from a run's config) or a true factor of the shapes world."""

    key: str
    label: str
    config: dict[str, Any] | None = None
    reference: int | None = None  # index of the run whose own assessor this is (the diagonal)
    model: torch.nn.Module | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CrossSettings:
    """Held-out seeds, α grid (over ``alpha_scale`` × each run's trained range), bootstrap and random draws."""

    num_seeds: int = 200
    num_alphas: int = 9
    alpha_scale: float = 1.0
    batch_size: int = 250
    bootstrap: int = 200
    random: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for key, least in (("num_seeds", 2), ("num_alphas", 1), ("batch_size", 1), ("bootstrap", 1), ("random", 0)):
            whole(key, getattr(self, key), least)
        if not self.alpha_scale >= 1.0:
            raise ConfigError(f"alpha_scale={self.alpha_scale} must be >= 1 (the grid spans the trained range).")


def check_one_generator(runs: Sequence[CrossRun]) -> dict[str, Any]:
    """The generator config all runs share, or a ConfigError naming the runs that differ."""
    first = runs[0].config["generator"]
    for run in runs[1:]:
        if run.config["generator"] != first:
            raise ConfigError(
                f"the runs use different generators: {runs[0].folder} uses {first.get('name', first.get('_target_'))} "
                f"and {run.folder} uses {run.config['generator'].get('name', run.config['generator'].get('_target_'))} "
                "(or the same one with other settings). A cross matrix compares directions in one latent space: "
                "give runs trained on one generator.")
    return first


def assessor_columns(runs: Sequence[CrossRun]) -> tuple[list[Column], list[int]]:
    """One column per distinct assessor config (first run using it is its reference); each run's column index."""
    columns: list[Column] = []
    owners = []
    for i, run in enumerate(runs):
        config = run.config["assessor"]
        match = next((j for j, c in enumerate(columns) if c.config == config), None)
        if match is None:
            name = str(config.get("name", run.label))
            label = name if all(c.label != name for c in columns) else f"{name} ({run.label})"
            columns.append(Column(f"assessor:{label}", label, config, i))
            match = len(columns) - 1
        owners.append(match)
    return columns, owners


def multi_measure(columns: Sequence[Column], own: int, truth: WorldTools | None,
                  device: torch.device) -> Callable[[torch.Tensor], dict]:
    """Images -> every column's values except the ``own`` assessor's (``sweep`` scores that one itself)."""

    def measure(images: torch.Tensor) -> dict[str, torch.Tensor]:
        values = {}
        for j, column in enumerate(columns):
            if column.model is not None and j != own:
                values[column.key] = column.model(images.to(device)).float().cpu()
        if truth is not None:
            values.update({f"true:{k}": v for k, v in truth.measure(images).items()})
        return values

    return measure


def step_per_alpha(transformer: Transformer, z: torch.Tensor, y: torch.Tensor, alpha_range: tuple[float, float]) -> float:
    """Mean latent distance ‖T(z, α) − z‖ / |α| at the larger end of the trained range (‖θ‖ for a linear one)."""
    end = max(alpha_range, key=abs)
    device = next(transformer.parameters()).device
    alpha = slider_alpha(end, len(z), int(getattr(transformer, "alpha_dim", 1)), 0, device)
    with torch.no_grad():
        moved = transformer(z.to(device), alpha, y.to(device)) - z.to(device)
    return float(moved.norm(dim=1).mean()) / abs(end)


@dataclass
class RowSweep:
    """One direction's measurements: values[column key] (seeds, alphas) on its α grid, and its step length."""

    label: str
    alphas: np.ndarray
    inside: np.ndarray
    alpha_range: tuple[float, float]
    step: float
    values: dict[str, np.ndarray]
    predicted: np.ndarray | None


def sweep_row(generator: Generator, label: str, transformer: Transformer, alpha_range: tuple[float, float],
              columns: Sequence[Column], own: int, truth: WorldTools | None, z: torch.Tensor, y: torch.Tensor,
              settings: CrossSettings) -> RowSweep:
    """Generate every (seed, α) image of one direction once and measure it with every column."""
    alphas = alpha_grid(alpha_range, settings.alpha_scale, settings.num_alphas)
    inside = (alphas >= alpha_range[0] - 1e-9) & (alphas <= alpha_range[1] + 1e-9)
    device = next(transformer.parameters()).device
    tools = WorldTools(multi_measure(columns, own, truth, device), truth.classifier if truth else None)
    eval_settings = EvalSettings(num_seeds=len(z), batch_size=settings.batch_size, world=truth is not None)
    result = sweep(generator, transformer.eval(), columns[own].model, z, y, alphas, eval_settings, tools, label)
    values = {columns[own].key: result.scores, **result.factors}
    return RowSweep(label, alphas, inside, alpha_range, step_per_alpha(transformer, z, y, alpha_range), values,
                    result.predicted)


def entry_values(row: RowSweep, key: str, seeds: np.ndarray | slice = slice(None)) -> tuple[float, float, float]:
    """Over the trained range: slope and pooled Spearman ρ of the column's change from α = 0 against α, and the
    mean |change| per seed at the range's ends (a direction that moves seeds both ways has ρ near 0 but not this)."""
    period = CIRCULAR_FACTORS.get(key.split(":")[-1])
    values = row.values[key][seeds]
    metrics = change_metrics(row.alphas, values, row.inside, period)
    ends = np.flatnonzero(np.isin(row.alphas, row.alpha_range))
    return metrics["slope"], metrics["spearman"], float(np.abs(change_from_zero(row.alphas, values, period)[:, ends]).mean())


def entry_arrays(rows: Sequence[RowSweep], keys: Sequence[str], seeds: np.ndarray | slice) -> np.ndarray:
    """(rows, columns, 3): slope, ρ and mean |change| at the ends of every entry on one choice of seeds."""
    return np.array([[entry_values(row, key, seeds) for key in keys] for row in rows])


def normalise(slopes: np.ndarray, steps: np.ndarray, references: Sequence[int | None]) -> np.ndarray:
    """Slope per unit latent distance over the reference direction's (NaN for columns without a reference)."""
    per_distance = slopes / steps[:, None]
    out = np.full_like(per_distance, np.nan)
    for j, ref in enumerate(references):
        if ref is not None and per_distance[ref, j] != 0:
            out[:, j] = per_distance[:, j] / per_distance[ref, j]
    return out


def interval(samples: np.ndarray) -> np.ndarray:
    """The 95% percentile interval over the first axis (NaN for an entry that is NaN in every resample)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(samples, [2.5, 97.5], axis=0)


def cross_matrix(folders: Sequence[str | Path], settings: CrossSettings, device: torch.device | str = "cpu",
                 load: Callable[[str | Path], CrossRun] = load_cross_run) -> dict[str, Any]:
    """Sweep every run's direction (and the random draws), measure with every column, bootstrap; the report dict."""
    if len(folders) < 2:
        raise ConfigError(f"a cross matrix needs at least two run folders, got {len(folders)}.")
    runs = [load(f) for f in folders]
    generator_config = check_one_generator(runs)
    generator = build_generator(generator_config).to(device)
    columns, owners = assessor_columns(runs)
    for column in columns:
        column.model = build_assessor(column.config).to(device)
    truth = world_tools(generator, "auto")
    seeds = held_out_seeds(settings.num_seeds)
    z, y = latents_for_seeds(generator, seeds)
    rows = [sweep_row(generator, run.label, run.transformer.to(device), run.alpha_range, columns, owner, truth, z, y,
                      settings) for run, owner in zip(runs, owners)]
    keys = [c.key for c in columns] + sorted(k for k in rows[0].values if k.startswith("true:"))
    references = [c.reference for c in columns] + [None] * (len(keys) - len(columns))
    median_step = float(np.median([r.step for r in rows]))
    draws = []
    for k in range(settings.random):
        baseline = LinearTransformer(generator.dim_z).to(device)
        unit = torch.randn(1, generator.dim_z, generator=torch.Generator().manual_seed(
            stream_seed(settings.seed, "cross_random", k)))
        with torch.no_grad():
            baseline.theta.copy_(unit / unit.norm() * median_step)
        draws.append(sweep_row(generator, f"{RANDOM} {k}", baseline, runs[0].alpha_range, columns, 0, truth, z, y,
                               settings))
    every = rows + draws
    steps = np.array([r.step for r in every])
    point = entry_arrays(every, keys, slice(None))
    rng = np.random.default_rng(stream_seed(settings.seed, "cross_bootstrap"))
    boot = np.stack([entry_arrays(every, keys, rng.integers(0, len(seeds), len(seeds)))
                     for _ in tqdm(range(settings.bootstrap), desc="bootstrap", unit="resample", mininterval=1.0)])
    return report(runs, rows, draws, keys, owners, columns, references, steps, point, boot, y.numpy(), settings,
                  str(generator_config.get("name", type(generator).__name__)))


def report(runs: Sequence[CrossRun], rows: Sequence[RowSweep], draws: Sequence[RowSweep], keys: Sequence[str],
           owners: Sequence[int], columns: Sequence[Column], references: Sequence[int | None], steps: np.ndarray, point: np.ndarray,
           boot: np.ndarray, y: np.ndarray, settings: CrossSettings, generator_name: str) -> dict[str, Any]:
    """The JSON-ready report: per run and column the point values with intervals; the random row as mean |value|."""
    norm_point = normalise(point[..., 0], steps, references)
    norm_boot = np.stack([normalise(b[..., 0], steps, references) for b in boot])
    n = len(rows)

    def entries(i: int) -> dict[str, dict[str, Any]]:
        return {key: {"slope": point[i, j, 0], "slope_ci": interval(boot[:, i, j, 0]).tolist(),
                      "normalised_slope": norm_point[i, j], "normalised_slope_ci": interval(norm_boot[:, i, j]).tolist(),
                      "spearman": point[i, j, 1], "spearman_ci": interval(boot[:, i, j, 1]).tolist(),
                      "mean_abs_change_at_ends": point[i, j, 2],
                      "mean_abs_change_at_ends_ci": interval(boot[:, i, j, 2]).tolist()}
                for j, key in enumerate(keys)}

    out_rows = []
    for i, (run, row) in enumerate(zip(runs, rows)):
        entry = {"label": row.label, "run": str(run.folder), "assessor": keys[owners[i]], "alpha_range": list(row.alpha_range),
                 "step_per_alpha": row.step, "entries": entries(i)}
        if row.predicted is not None:
            entry["class"] = class_metrics(row.alphas, row.predicted, y, row.alpha_range)
        out_rows.append(entry)
    random_summary = {}
    if draws:
        for j, key in enumerate(keys):
            random_summary[key] = {
                "abs_spearman_mean": float(np.abs(point[n:, j, 1]).mean()),
                "abs_spearman_mean_ci": interval(np.abs(boot[:, n:, j, 1]).mean(1)).tolist(),
                "abs_normalised_slope_mean": float(np.abs(norm_point[n:, j]).mean()),
                "abs_normalised_slope_mean_ci": interval(np.abs(norm_boot[:, n:, j]).mean(1)).tolist(),
                "spearman_draws": point[n:, j, 1].tolist(), "normalised_slope_draws": norm_point[n:, j].tolist()}
    labels = {c.key: c.label for c in columns} | {k: f"true {k.split(':', 1)[1]}" for k in keys if k.startswith("true:")}
    return {
        "what": "Spearman rho and slope of each column's change from alpha = 0 against alpha, over each direction's "
                "trained range, on shared held-out seeds; normalised_slope = change per unit latent distance over "
                "that of the column's own direction (diagonal = 1); 95% percentile bootstrap intervals over seeds",
        "generator": generator_name, "num_seeds": settings.num_seeds, "settings": asdict(settings),
        "columns": [{"key": k, "label": labels[k], "kind": k.split(":")[0],
                     "reference_run": None if references[j] is None else out_rows[references[j]]["label"]}
                    for j, k in enumerate(keys)],
        "rows": out_rows,
        "random": {"draws": len(draws), "step_per_alpha": float(np.median(steps[:n])),
                   "alpha_range": list(draws[0].alpha_range) if draws else None, "summary": random_summary},
    }


def matrix_values(report_: dict[str, Any], value: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(rows + random, columns) of ``value`` with its interval, and the row labels; the random row is mean |value|."""
    keys = [c["key"] for c in report_["columns"]]
    data = [[row["entries"][k][value] for k in keys] for row in report_["rows"]]
    intervals = [[row["entries"][k][f"{value}_ci"] for k in keys] for row in report_["rows"]]
    labels = [row["label"] for row in report_["rows"]]
    summary = report_["random"]["summary"]
    if summary:
        data.append([summary[k][f"abs_{value}_mean"] for k in keys])
        intervals.append([summary[k][f"abs_{value}_mean_ci"] for k in keys])
        labels.append(f"random, mean |·| of {report_['random']['draws']}")
    as_float = np.vectorize(lambda v: np.nan if v is None else float(v))
    return as_float(np.array(data, dtype=object)), as_float(np.array(intervals, dtype=object)), labels


def plot_matrix(report_: dict[str, Any], path: str | Path) -> Path:
    """Heat maps of ρ (every column) and of the normalised slope (assessor columns), entries annotated with their
    value and 95% interval."""
    labels_all = [c["label"] for c in report_["columns"]]
    n_assessors = sum(c["kind"] == "assessor" for c in report_["columns"])
    panels = [("spearman", "Spearman ρ(α, change from α=0)", 1.0, len(labels_all)),
              ("normalised_slope", "slope per unit latent distance ÷ that of\nthe column's own direction (diagonal = 1)",
               1.5, n_assessors)]
    n_rows = len(report_["rows"]) + bool(report_["random"]["summary"])
    fig, axes = plt.subplots(1, 2, figsize=(5.0 + 0.95 * (len(labels_all) + max(n_assessors, 3)), 2.4 + 0.62 * n_rows),
                             gridspec_kw={"width_ratios": [len(labels_all) + 1, max(n_assessors, 3) + 1]})
    for ax, (value, title, limit, n_columns) in zip(axes, panels):
        columns = labels_all[:n_columns]
        data, ci, labels = matrix_values(report_, value)
        data, ci = data[:, :n_columns], ci[:, :n_columns]
        image = ax.imshow(np.clip(data, -limit, limit), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                if np.isfinite(data[i, j]):
                    ax.text(j, i, f"{data[i, j]:.2f}\n[{ci[i, j, 0]:.2f}, {ci[i, j, 1]:.2f}]", ha="center",
                            va="center", fontsize=6, color="white" if abs(data[i, j]) > 0.6 * limit else "black")
        ax.set_xticks(range(len(columns)), columns, rotation=40, ha="right", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.set(xlabel="measured by (assessor, or true factor from pixels)" if n_columns > n_assessors else
               "measured by assessor", ylabel="direction (run)", title=title)
        fig.colorbar(image, ax=ax, fraction=0.03)
    fig.suptitle(f"Cross-assessor matrix on {report_['generator']}: each trained direction (row) measured by each "
                 f"assessor and true factor (column) over its trained α range,\n{report_['num_seeds']} held-out seeds, "
                 "[95% bootstrap interval over seeds]; random row: mean |value| of random directions of the median "
                 "step length", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, path)


def csv_text(report_: dict[str, Any]) -> str:
    """One line per direction and column: every value with its interval."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    values = ("slope", "normalised_slope", "spearman", "mean_abs_change_at_ends")
    writer.writerow(["direction", "run", "column", *(f"{v}{s}" for v in values for s in ("", "_low", "_high"))])
    for row in report_["rows"]:
        for column in report_["columns"]:
            entry = row["entries"][column["key"]]
            writer.writerow([row["label"], row["run"], column["label"],
                             *(x for v in values for x in (entry[v], *entry[f"{v}_ci"]))])
    for key, entry in report_["random"]["summary"].items():
        label = next(c["label"] for c in report_["columns"] if c["key"] == key)
        writer.writerow([f"random (mean |value| of {report_['random']['draws']})", "", label, "", "", "",
                         entry["abs_normalised_slope_mean"], *entry["abs_normalised_slope_mean_ci"],
                         entry["abs_spearman_mean"], *entry["abs_spearman_mean_ci"], "", "", ""])
    return buffer.getvalue()


def save_report(report_: dict[str, Any], out: str | Path) -> dict[str, Path]:
    """Write cross.json, cross.csv and cross_matrix.png into ``out``."""
    out = Path(out)
    return {"json": write_json(out / "cross.json", report_), "csv": write_text(out / "cross.csv", csv_text(report_)),
            "png": plot_matrix(report_, out / "cross_matrix.png")}
