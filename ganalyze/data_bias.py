"""Does the training data limit how far a walk can steer? Model Δμ under ±α* against the data set's σ.

"On the steerability of GANs" (Jahanian, Chai, Isola, 2020) finds that a walk shifts the mean of an
attribute further where the generator's training data spreads that attribute more (Δμ correlates with σ
over the classes of one BigGAN). Here the data sets are shapes-world variants whose spread of one factor
differs (conf/world), and, as BigGAN's classes, they are the conditions of ONE generator: the shapes
σ-VAE trained on all of them at once, with class id = data-set index × 6 + shape. Per (factor, data set)
a walk with the edit that moves the factor is trained on that data set's classes, and the walked images
are measured from pixels:

    Δμ = mean over held-out seeds of [f(G(T(z, +α*))) - f(G(T(z, -α*)))]     (per-seed changes; hue wraps)

against σ = the factor's exact standard deviation in the data set (``WorldVariant.factor_stats()``), with
Pearson's r and its p-value per factor. Every trained artefact is cached in the output folder (the generator
in out_dir/generator, walks and results in out_dir/walk_<transformer>), so a killed run resumes where it
stopped and another walk kind reuses the generator.
"""

from __future__ import annotations

import csv
import json
import textwrap
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from ganalyze.atomic import atomic_open, write_json, write_text
from ganalyze.figures import save_figure
from ganalyze.checkpoint import config_differences
from ganalyze.output_set import staged_outputs
from ganalyze.edits import get_edit
from ganalyze.errors import ConfigError, GanalyzeError
from ganalyze.evaluation import change_from_zero, slider_alpha
from ganalyze.generators.base import Generator
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.objectives.edit import EditObjective
from ganalyze.pretrained import CONFIG_NAME, WEIGHTS_NAME
from ganalyze.sampling import held_out_seeds, latents_for_seeds
from ganalyze.training import CHECKPOINT_FILE, TrainSettings, resume_state, train
from ganalyze.transformers import TRANSFORMERS, Transformer, load_transformer
from ganalyze.world import SHAPE_NAMES, load_variant
from ganalyze.world.measure import measure

GENERATOR_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_shapes_generator.py"
CIRCULAR = {"hue": 360.0}
POOLED = {"position": ("x", "y")}  # factors also analysed together: both shifts move "position"
MADE_WITH = "made_with.json"
GENERATOR_KEYS = ("steps", "batch_size", "width", "resolution", "flow_layers", "fit_samples")


@dataclass(frozen=True)
class FactorSpec:
    """One factor of the analysis: the edit that moves it, the α* it is pushed by, the data sets compared."""

    name: str
    edit: str
    alpha_star: float
    datasets: tuple[str, ...]
    lr: float


def factor_specs(node: Mapping[str, Any], default_lr: float) -> list[FactorSpec]:
    """FactorSpecs from the config's ``factors`` mapping, checked (known edit, ≥ 3 data sets, α* > 0)."""
    specs = []
    for name, item in node.items():
        get_edit(str(item["edit"]))
        datasets = tuple(str(d) for d in item["datasets"])
        if len(datasets) < 3:
            raise ConfigError(f"factors.{name}.datasets needs at least 3 data sets for a correlation, got {list(datasets)}.")
        if not float(item["alpha_star"]) > 0:
            raise ConfigError(f"factors.{name}.alpha_star must be positive (the walk is pushed by ±α*), got {item['alpha_star']}.")
        for d in datasets:
            load_variant(d)  # unknown names fail here, listing the known variants
        specs.append(FactorSpec(str(name), str(item["edit"]), float(item["alpha_star"]), datasets,
                                float(item.get("lr") or default_lr)))
    return specs


def _is_saved(folder: Path) -> bool:
    """Whether ``folder`` holds a finished save_pretrained artefact."""
    return (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()


def claim_folder(folder: Path, settings: dict[str, Any]) -> None:
    """Record the settings an artefact folder is made with, or refuse one made with other settings.

    A cached generator or walk is reused only under the settings that made it, so a rerun never mixes budgets.
    """
    record = folder / MADE_WITH
    if record.is_file():
        saved = json.loads(record.read_text())
        diffs = config_differences(saved, settings)
        if diffs:
            raise ConfigError(f"{folder} was made with other settings ({'; '.join(diffs)}); choose another out_dir "
                              "or delete that folder to retrain it.")
        return
    write_text(record, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def dataset_classes(index: int) -> list[int]:
    """Class ids of data set ``index`` in the variant-conditioned generator (one per shape)."""
    return [index * len(SHAPE_NAMES) + c for c in range(len(SHAPE_NAMES))]


def train_world_generator(datasets: Sequence[str], folder: Path, node: Mapping[str, Any], seed: int) -> Generator:
    """One shapes generator conditioned on the data set, trained by scripts/train_shapes_generator.py, cached in ``folder``.

    A finished generator is loaded as is; an interrupted one resumes from its checkpoint.
    """
    final = folder / "final"
    claim_folder(folder, {"datasets": list(datasets), "seed": seed, **{k: node[k] for k in GENERATOR_KEYS}})
    if not _is_saved(final):
        if not GENERATOR_SCRIPT.is_file():
            raise ConfigError(f"training the generator needs {GENERATOR_SCRIPT} (a source checkout of ganalyze).")
        args = [sys.executable, str(GENERATOR_SCRIPT), f"variant=[{','.join(datasets)}]", f"seed={seed}",
                f"steps={node['steps']}", f"batch_size={node['batch_size']}", f"model.width={node['width']}",
                f"model.resolution={node['resolution']}", f"model.flow_layers={node['flow_layers']}",
                f"fit_samples={node['fit_samples']}",
                f"checkpoint={folder / 'checkpoint.pt'}", f"out_dir={final}", "resume=true", "threads=1",
                f"hydra.run.dir={folder / 'hydra'}"]
        print(f"training one shapes generator on {len(datasets)} data sets ({node['steps']} steps) into {folder}",
              flush=True)
        done = subprocess.run(args, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if done.returncode != 0 or not _is_saved(final):
            raise GanalyzeError(f"training the generator failed (exit {done.returncode}); see the output above. "
                                f"Rerun the same command to resume from {folder}.")
    return ShapesGenerator.from_pretrained(final)


def train_walk(generator: Generator, spec: FactorSpec, classes: list[int], folder: Path, node: Mapping[str, Any],
               seed: int, init: Callable[[Transformer], Any] | None = None) -> Transformer:
    """The walk for ``spec.edit`` on ``classes`` of ``generator`` (α ~ U[-α*, α*]), trained by the main loop,
    cached in ``folder``; ``init`` may set the new walk's starting point before training."""
    saved = folder / "transformer"
    config = {"edit": spec.edit, "alpha_star": spec.alpha_star, "lr": spec.lr, "seed": seed, "classes": classes,
              "walk": {k: node[k] for k in ("transformer", "steps", "batch_size")}}
    claim_folder(folder, config)
    if _is_saved(saved):
        return load_transformer(saved)
    objective = EditObjective(spec.edit)
    settings = TrainSettings(steps=int(node["steps"]), batch_size=int(node["batch_size"]), lr=spec.lr,
                             alpha_range=(-spec.alpha_star, spec.alpha_star),
                             classes=classes, checkpoint_every=max(1, int(node["steps"]) // 4), seed=seed)
    kind = str(node["transformer"])
    if kind not in TRANSFORMERS:
        raise ConfigError(f"walk.transformer={kind!r} is not a transformer kind; known: {', '.join(sorted(TRANSFORMERS))}.")
    checkpoint = resume_state(folder, config, resume=(folder / CHECKPOINT_FILE).is_file())
    torch.manual_seed(seed)
    cls = TRANSFORMERS[kind]
    extra = {"num_classes": generator.num_classes} if cls.needs_classes else {}
    transformer = cls(dim_z=generator.dim_z, alpha_dim=objective.alpha_dim, **extra)
    if init is not None:
        init(transformer)
    train(generator, transformer, objective, settings, folder, config, checkpoint=checkpoint)
    transformer.save_pretrained(saved)
    return transformer


@torch.no_grad()
def measure_shift(generator: Generator, transformer: Transformer, spec: FactorSpec, num_seeds: int,
                  batch_size: int, classes: Sequence[int] | None = None) -> dict[str, float]:
    """Mean change of the factor at +α* and -α* (from α = 0, per held-out seed), Δμ, and the model's own μ, σ at 0."""
    alphas = np.array([-spec.alpha_star, 0.0, spec.alpha_star])
    values = walked_values(generator, transformer, spec.name, alphas, num_seeds, batch_size, classes)  # (seeds, 3)
    period = CIRCULAR.get(spec.name)
    delta = change_from_zero(alphas, values, period)
    mu, sigma = spread(values[:, 1], period)
    return {"delta_plus": float(delta[:, 2].mean()), "delta_minus": float(delta[:, 0].mean()),
            "delta_mu": float(delta[:, 2].mean() - delta[:, 0].mean()), "model_mu": mu, "model_sigma": sigma}


@torch.no_grad()
def walked_values(generator: Generator, transformer: Transformer, factor: str, alphas: Sequence[float],
                  num_seeds: int, batch_size: int, classes: Sequence[int] | None = None) -> np.ndarray:
    """The factor measured from pixels of G(T(z, α)) for the held-out seeds (rows) at each α (columns)."""
    z, y = latents_for_seeds(generator, held_out_seeds(num_seeds), classes)
    alpha_dim = int(getattr(transformer, "alpha_dim", 1))
    columns = []
    for alpha in alphas:
        parts = []
        for i in range(0, len(z), batch_size):
            zc, yc = z[i:i + batch_size], y[i:i + batch_size]
            images = generator(transformer(zc, slider_alpha(float(alpha), len(zc), alpha_dim, 0, zc.device), yc), yc)
            parts.append(measure(images.float())[factor])
        columns.append(torch.cat(parts).numpy().astype(np.float64))
    return np.stack(columns, axis=1)


def spread(values: np.ndarray, period: float | None) -> tuple[float, float]:
    """Mean and standard deviation; for a circular factor the circular mean and the std of the wrapped deviations."""
    if period is None:
        return float(values.mean()), float(values.std())
    rad = values * (2 * np.pi / period)
    mean = float(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean()) * period / (2 * np.pi) % period)
    deviation = change_from_zero(np.array([0.0, 1.0]), np.stack([np.full_like(values, mean), values], axis=1), period)
    return mean, float(deviation[:, 1].std())


def correlate(rows: Sequence[Mapping[str, Any]], factors: Sequence[str], key: str = "delta_mu") -> dict[str, dict[str, Any]]:
    """Pearson r and two-sided p of data σ against ``key`` (model Δμ), per factor and for the pooled groups in POOLED."""
    groups = {f: (f,) for f in factors}
    groups.update({name: members for name, members in POOLED.items() if all(m in factors for m in members)})
    out = {}
    for name, members in groups.items():
        pick = [r for r in rows if r["factor"] in members]
        sigma = np.array([r["data_sigma"] for r in pick], dtype=float)
        values = np.array([r[key] for r in pick], dtype=float)
        if len(pick) < 3 or np.ptp(sigma) == 0 or np.ptp(values) == 0:
            out[name] = {"r": float("nan"), "p": float("nan"), "n": len(pick),
                         "note": "undefined: fewer than 3 points or a constant side"}
            continue
        result = stats.pearsonr(sigma, values)
        out[name] = {"r": float(result.statistic), "p": float(result.pvalue), "n": len(pick)}
    return out


def plot_scatter(rows: Sequence[Mapping[str, Any]], correlations: Mapping[str, Mapping[str, Any]],
                 model_sigma: Mapping[str, Mapping[str, Any]], path: Path, walk: str | None = None) -> Path:
    """Per factor: data σ against model Δμ (top; each data set labelled, r and p in the title) and against
    the generator's own σ at α = 0 (bottom: did it learn the data's spread?). ``walk`` names the walks' kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    factors = list(dict.fromkeys(r["factor"] for r in rows))
    fig, axes = plt.subplots(2, len(factors), figsize=(3.8 * len(factors), 7.0), squeeze=False)
    for top, bottom, factor in zip(axes[0], axes[1], factors):
        pick = [r for r in rows if r["factor"] == factor]
        sigma = [r["data_sigma"] for r in pick]
        top.scatter(sigma, [r["delta_mu"] for r in pick], color="tab:blue", label="Δμ = μ(+α*) − μ(−α*)")
        top.scatter(sigma, [r["delta_plus"] for r in pick], color="tab:green", marker="^", s=18, label="μ(+α*) − μ(0)")
        top.scatter(sigma, [-r["delta_minus"] for r in pick], color="tab:orange", marker="v", s=18, label="μ(0) − μ(−α*)")
        bottom.scatter(sigma, [r["model_sigma"] for r in pick], color="tab:purple")
        bottom.plot([0, max(sigma)], [0, max(sigma)], color="0.6", lw=1, ls=":", label="model σ = data σ")
        for r in pick:
            top.annotate(r["dataset"], (r["data_sigma"], r["delta_mu"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
            bottom.annotate(r["dataset"], (r["data_sigma"], r["model_sigma"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        c, m = correlations[factor], model_sigma[factor]
        top.set_title(f"{factor}, walk trained for {pick[0]['edit']}: Pearson r={c['r']:.2f}, p={c['p']:.2g}", fontsize=9)
        top.set(xlabel=f"data σ of {factor}", ylabel=f"model Δμ of {factor} (α* = {pick[0]['alpha_star']:g})")
        bottom.set_title(f"generator's own spread of {factor}: Pearson r={m['r']:.2f}", fontsize=9)
        bottom.set(xlabel=f"data σ of {factor}", ylabel=f"model σ of {factor} at α = 0")
    axes[0][0].legend(fontsize=6)
    axes[1][0].legend(fontsize=6, loc="lower right")
    kind = f"{walk} walks" if walk else "walks"
    title = (f"Data bias: one shapes generator conditioned on data sets of different σ (points, named); {kind} per "
             "factor and data set, factors measured from pixels. Top: how far the walk moves the factor (Δμ under "
             "±α*) against the data's σ. Bottom: the generator's own σ against the data's.")
    fig.suptitle(textwrap.fill(title, width=int(12 * 3.8 * len(factors))), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))

    return save_figure(fig, path)


GeneratorTrainer = Callable[[Sequence[str], Path, Mapping[str, Any], int], Generator]


def frozen_world_generator(train_generator: GeneratorTrainer, datasets: Sequence[str], folder: Path,
                           node: Mapping[str, Any], seed: int) -> Generator:
    """The generator ``train_generator`` trains (or loads) in ``folder``, frozen, checked to have one class per
    (data set, shape)."""
    generator = train_generator(datasets, folder, node, seed).eval().requires_grad_(False)
    if generator.num_classes != len(datasets) * len(SHAPE_NAMES):
        raise ConfigError(f"the generator in {folder} has {generator.num_classes} classes, but "
                          f"{len(datasets)} data sets x {len(SHAPE_NAMES)} shapes were asked for.")
    return generator


def run_bias_analysis(cfg: Mapping[str, Any], train_generator: GeneratorTrainer = train_world_generator) -> dict[str, Any]:
    """Train (or load) the generator and a walk per (factor, data set); measure Δμ, correlate with σ, save."""
    out = Path(cfg["out_dir"])
    results = out / f"walk_{cfg['walk']['transformer']}"  # walks of each kind beside one shared generator
    specs = factor_specs(cfg["factors"], float(cfg["walk"]["lr"]))
    seed = int(cfg["seed"])
    datasets = list(dict.fromkeys(d for spec in specs for d in spec.datasets))
    generator = frozen_world_generator(train_generator, datasets, out / "generator", cfg["generator"], seed)
    rows = []
    for spec in specs:
        for dataset in spec.datasets:
            classes = dataset_classes(datasets.index(dataset))
            walk = train_walk(generator, spec, classes, results / "walks" / f"{spec.name}_{dataset}", cfg["walk"], seed)
            mean, sigma = load_variant(dataset).factor_stats()[spec.name]
            shift = measure_shift(generator, walk.eval(), spec, int(cfg["eval"]["num_seeds"]),
                                  int(cfg["eval"]["batch_size"]), classes)
            rows.append({"factor": spec.name, "edit": spec.edit, "alpha_star": spec.alpha_star, "dataset": dataset,
                         "data_mean": mean, "data_sigma": sigma, **shift})
            print(f"{spec.name:>5} {dataset:>16}: data σ={sigma:.4g}  model σ={shift['model_sigma']:.4g}  "
                  f"Δμ={shift['delta_mu']:.4g}", flush=True)
    correlations = correlate(rows, [s.name for s in specs])
    model_sigma = correlate(rows, [s.name for s in specs], "model_sigma")
    save_bias_results(rows, correlations, model_sigma, cfg, results)
    for name, c in correlations.items():
        print(f"{name:>8}: Pearson r(data σ, Δμ) = {c['r']:.3f}, p = {c['p']:.3g} over {c['n']} data sets   "
              f"[r(data σ, model σ) = {model_sigma[name]['r']:.3f}]")
    print(f"data-bias results written to {results}")
    return {"rows": rows, "correlations": correlations, "model_sigma_correlations": model_sigma}


def save_bias_results(rows: Sequence[Mapping[str, Any]], correlations: Mapping[str, Any],
                      model_sigma: Mapping[str, Any], cfg: Mapping[str, Any], out: Path) -> dict[str, Path]:
    """bias_table.csv (one row per factor × data set), bias_results.json (rows, r, p, config), bias_scatter.png."""
    names = {"table": "bias_table.csv", "results": "bias_results.json", "plot": "bias_scatter.png"}
    with staged_outputs(out) as stage:  # the three files are replaced together or not at all
        with atomic_open(stage / names["table"], "w") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        write_json(stage / names["results"], {"rows": list(rows), "correlations": correlations,
                                              "model_sigma_correlations": model_sigma, "config": cfg})
        plot_scatter(rows, correlations, model_sigma, stage / names["plot"])
    return {key: out / name for key, name in names.items()}
