"""The steerability paper's Table 1 with statistical power: model Δμ under ±α* against data σ over N data sets.

Jahanian, Chai and Isola (2020) report, per transformation, Pearson's r between a class's data spread σ and
how far a walk moves the class's mean (Δμ under ±α*), over BigGAN's classes, with p < 0.001 for every
slope. Here the classes are N generated shapes-world data sets (ganalyze/world/families.py, a Latin
hypercube of spreads) conditioning one shapes generator. Per factor, two kinds of walk:

- shared: ONE walk trained on the classes of all data sets and applied to each (the paper's w, shared
  across classes);
- per data set: a walk trained on that data set's classes alone (ganalyze-steer-bias's design).

For each, Δμ per data set from per-seed changes measured from pixels (data_bias.walked_values), Pearson r,
the slope's p-value, and a 95% bootstrap interval of r resampling data sets and, within each, held-out
seeds. The shared walk also gets the paper's limits curve (achieved against requested α, steerability.py).
Every walk and every measurement is cached under out_dir, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from tqdm import tqdm

from ganalyze.atomic import write_json, write_text
from ganalyze.circular_init import calibrate_gains, fit_hue_plane
from ganalyze.data_bias import (
    CIRCULAR, FactorSpec, GeneratorTrainer, claim_folder, dataset_classes, factor_specs, frozen_world_generator,
    spread, train_walk, train_world_generator, walked_values,
)
from ganalyze.edits import get_edit
from ganalyze.errors import ConfigError
from ganalyze.evaluation import change_from_zero
from ganalyze.generators.base import Generator
from ganalyze.steerability import evaluate_steerability, save_steerability
from ganalyze.transformers import (
    TRANSFORMERS, ClassRotationTransformer, RotationTransformer, Transformer, load_transformer,
)
from ganalyze.world import load_variant
from ganalyze.world.families import FACTOR_RANGE, design_correlation, latin_family
from ganalyze.world.measure import measure

WALKS = ("shared", "per_dataset")
REAL_SEED = 2**30 + 5  # real images of the range check: not the generator's training or fit images
ALPHA = 0.001  # the paper's significance bar for every slope


@dataclass(frozen=True)
class Shift:
    """Per held-out seed, the factor's change from α = 0 at -α* and +α*, and its value at α = 0."""

    minus: np.ndarray
    plus: np.ndarray
    at_zero: np.ndarray

    @property
    def delta_mu(self) -> float:
        return float(self.plus.mean() - self.minus.mean())

    def to_json(self) -> dict[str, list[float]]:
        return {"minus": self.minus.tolist(), "plus": self.plus.tolist(), "at_zero": self.at_zero.tolist()}

    @staticmethod
    def from_json(node: Mapping[str, Sequence[float]]) -> Shift:
        return Shift(*(np.asarray(node[k], dtype=float) for k in ("minus", "plus", "at_zero")))


def family_datasets(cfg: Mapping[str, Any]) -> list[str]:
    """The generated data sets of ``cfg['family']`` (count, spreads [low, high], seed)."""
    node = cfg["family"]
    low, high = (float(v) for v in node["spreads"])
    return latin_family(int(node["count"]), low, high, int(node["seed"]))


def resolve_factors(cfg: Mapping[str, Any], family: Sequence[str]) -> tuple[list[FactorSpec], dict[str, str]]:
    """FactorSpecs (``datasets: family`` replaced by the generated family) and each factor's walk kind."""
    node, kinds = {}, {}
    for name, item in cfg["factors"].items():
        if name not in FACTOR_RANGE:
            raise ConfigError(f"factors.{name}: the studied factors are {sorted(FACTOR_RANGE)} (measured from pixels "
                              "and spread by the generated family).")
        datasets = item["datasets"]
        node[name] = {**item, "datasets": list(family) if datasets == "family" else datasets}
        kinds[name] = str(item.get("transformer") or cfg["walk"]["transformer"])
    return factor_specs(node, float(cfg["walk"]["lr"])), kinds


def measure_seeds(generator: Generator, walk: Transformer, spec: FactorSpec, num_seeds: int, batch_size: int,
                  classes: Sequence[int]) -> Shift:
    """Per-seed changes of the factor under ∓α* (hue wraps), measured from pixels."""
    alphas = np.array([-spec.alpha_star, 0.0, spec.alpha_star])
    values = walked_values(generator, walk, spec.name, alphas, num_seeds, batch_size, classes)
    delta = change_from_zero(alphas, values, CIRCULAR.get(spec.name))
    return Shift(minus=delta[:, 0], plus=delta[:, 2], at_zero=values[:, 1])


def cached_shift(path: Path, compute) -> Shift:
    """The Shift saved at ``path``, or ``compute()`` saved there (a rerun skips measured data sets)."""
    if path.is_file():
        return Shift.from_json(json.loads(path.read_text()))
    shift = compute()
    write_json(path, shift.to_json())
    return shift


def outside_range(values: np.ndarray, mean: float, sigma: float, period: float | None) -> float:
    """Share of ``values`` outside the data set's range μ ± √3σ (exact for a uniform factor; hue wraps)."""
    deviation = values - mean if period is None else (values - mean + period / 2) % period - period / 2
    return float(np.mean(np.abs(deviation) > np.sqrt(3.0) * sigma + 1e-9))


def real_outside(dataset: str, factor: str, resolution: int, num: int = 200) -> float:
    """Share of REAL images of ``dataset`` (at the generator's resolution) measured outside the data set's range:
    the measure's own error, the baseline for the generated images' shares."""
    variant = load_variant(dataset)
    images, _ = variant.sample(num, seed=REAL_SEED, resolution=resolution)
    mean, sigma = variant.factor_stats()[factor]
    values = measure(images)[factor].numpy().astype(np.float64)
    return outside_range(values, mean, sigma, CIRCULAR.get(factor))


def pearson(sigma: np.ndarray, delta: np.ndarray) -> dict[str, float]:
    """Pearson r, the slope and its two-sided p-value (the t-test of the slope, equal to Pearson's p)."""
    if len(sigma) < 3 or np.ptp(sigma) == 0 or np.ptp(delta) == 0:
        return {"r": float("nan"), "p": float("nan"), "slope": float("nan"), "intercept": float("nan")}
    fit = stats.linregress(sigma, delta)
    return {"r": float(fit.rvalue), "p": float(fit.pvalue), "slope": float(fit.slope),
            "intercept": float(fit.intercept)}


def bootstrap_r(sigma: np.ndarray, seed_deltas: Sequence[np.ndarray], resamples: int, seed: int) -> tuple[float, float]:
    """95% interval of Pearson r resampling data sets, and within each data set its held-out seeds."""
    rng = np.random.default_rng(seed)
    n = len(sigma)
    rs = []
    for _ in range(resamples):
        pick = rng.integers(n, size=n)
        delta = np.array([seed_deltas[i][rng.integers(len(seed_deltas[i]), size=len(seed_deltas[i]))].mean()
                          for i in pick])
        s = sigma[pick]
        if np.ptp(s) > 0 and np.ptp(delta) > 0:
            rs.append(np.corrcoef(s, delta)[0, 1])
    if not rs:
        return float("nan"), float("nan")
    low, high = np.percentile(rs, [2.5, 97.5])
    return float(low), float(high)


def analyse(rows: Sequence[Mapping[str, Any]], shifts: Mapping[tuple[str, str, str], Shift], resamples: int,
            seed: int) -> list[dict[str, Any]]:
    """One summary per (walk, factor): n, r, p, slope, the bootstrap interval, whether p < 0.001 with r > 0, r of
    the generator's own σ against the data's, and the mean share of images outside their data set's range: real
    ones (the measure's error), generated at α = 0 (did it learn the bias?) and at ±α* (does the walk leave it?)."""
    out = []
    for walk in WALKS:
        for factor in dict.fromkeys(r["factor"] for r in rows):
            pick = [r for r in rows if r["walk"] == walk and r["factor"] == factor]
            if not pick:
                continue
            sigma = np.array([r["data_sigma"] for r in pick])
            delta = np.array([r["delta_mu"] for r in pick])
            deltas = [shifts[(walk, factor, r["dataset"])].plus - shifts[(walk, factor, r["dataset"])].minus
                      for r in pick]
            fit = pearson(sigma, delta)
            low, high = bootstrap_r(sigma, deltas, resamples, seed)
            out.append({"walk": walk, "factor": factor, "edit": pick[0]["edit"], "transformer": pick[0]["transformer"],
                        "n": len(pick), **fit, "r_low": low, "r_high": high,
                        "model_sigma_r": pearson(sigma, np.array([r["model_sigma"] for r in pick]))["r"],
                        "outside_real": float(np.mean([r["outside_real"] for r in pick])),
                        "outside_at_zero": float(np.mean([r["outside_at_zero"] for r in pick])),
                        "outside_walked": float(np.mean([r["outside_walked"] for r in pick])),
                        "reproduced": bool(fit["r"] > 0 and fit["p"] < ALPHA)})
    return out


def table_markdown(summary: Sequence[Mapping[str, Any]]) -> str:
    """The paper's layout: a row per walk, a column per transformation, each cell r (p) [95% interval]."""
    factors = list(dict.fromkeys(s["factor"] for s in summary))
    head = "| walk | " + " | ".join(f"{f} ({next(s['edit'] for s in summary if s['factor'] == f)})" for f in factors)
    lines = [head + " |", "|---" * (len(factors) + 1) + "|"]
    for walk in dict.fromkeys(s["walk"] for s in summary):
        cells = []
        for f in factors:
            s = next((s for s in summary if s["walk"] == walk and s["factor"] == f), None)
            cells.append("–" if s is None else
                         f"r = {s['r']:.2f} (p = {s['p']:.1e}) [{s['r_low']:.2f}, {s['r_high']:.2f}], n = {s['n']}")
        lines.append(f"| {walk} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as CSV text (header from the first row)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def walk_init(generator: Generator, spec: FactorSpec, kind: str, classes: list[int]) -> Callable[[Transformer], Any] | None:
    """A circular walk for hue starts in the plane where the generator codes hue (circular_init.py); others as built."""
    if kind == RotationTransformer.kind and spec.name == "hue":
        return lambda walk: fit_hue_plane(walk, generator, classes)
    if kind == ClassRotationTransformer.kind and spec.name == "hue":
        return lambda walk: (fit_hue_plane(walk, generator, classes), calibrate_gains(walk, generator, classes))
    return None


def fit_walk(generator: Generator, spec: FactorSpec, kind: str, classes: list[int], folder: Path,
             cfg: Mapping[str, Any], seed: int) -> Transformer:
    """The factor's walk of ``kind`` trained on ``classes`` (cached in ``folder``), in eval mode.

    ``factors.<f>.steps`` overrides walk.steps; 0 keeps the walk's fitted starting point untrained (hue's circular
    walk: the pixel loss shrank its turn, measured on docs/steerability_power.md)."""
    steps = cfg["factors"][spec.name].get("steps")
    node = {**cfg["walk"], "transformer": kind, **({} if steps is None else {"steps": int(steps)})}
    init = walk_init(generator, spec, kind, classes)
    if node["steps"] > 0:
        return train_walk(generator, spec, classes, folder, node, seed, init).eval()
    if init is None:
        raise ConfigError(f"factors.{spec.name}.steps = 0 keeps a fitted starting point, but a {kind} walk for "
                          f"{spec.name} has none; give steps > 0 (only a rotation or class_rotation walk for hue is fitted).")
    claim_folder(folder, {"edit": spec.edit, "classes": classes, "walk": node, "seed": seed, "fitted": True,
                          "calibrated": kind == ClassRotationTransformer.kind})
    saved = folder / "transformer"
    if (saved / "config.json").is_file():
        return load_transformer(saved).eval()
    cls = TRANSFORMERS[kind]
    walk = cls(dim_z=generator.dim_z, **({"num_classes": generator.num_classes} if cls.needs_classes else {}))
    init(walk)
    walk.save_pretrained(saved)
    return walk.eval()


def limits(generator: Generator, walk: Transformer, spec: FactorSpec, classes: list[int], folder: Path,
           cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The paper's limits curve of the shared walk: achieved against requested α over [-2α*, 2α*] (cached)."""
    path = folder / "steerability.json"
    if path.is_file():
        return json.loads(path.read_text())
    alphas = np.linspace(-2 * spec.alpha_star, 2 * spec.alpha_star, int(cfg["eval"]["limit_alphas"])).tolist()
    result = evaluate_steerability(generator, walk, get_edit(spec.edit), (-spec.alpha_star, spec.alpha_star),
                                   alphas=alphas, num_seeds=int(cfg["eval"]["num_seeds"]), classes=classes,
                                   batch_size=int(cfg["eval"]["batch_size"]))
    save_steerability(result, folder)
    return result.summary


def extremes(datasets: Sequence[str], factor: str) -> tuple[str, str]:
    """The data sets of narrowest and widest spread of ``factor``."""
    ordered = sorted(datasets, key=lambda d: load_variant(d).factor_stats()[factor][1])
    return ordered[0], ordered[-1]


def plot_extrapolation(generator: Generator, spec: FactorSpec, picks: Mapping[str, tuple[Transformer, list[int]]],
                       path: Path, seeds: int = 6) -> Path:
    """Held-out seeds of the narrowest and widest data set walked to -α*, 0, +α* by the shared walk, each image
    labelled with the factor measured from pixels, each row with the data set's range μ ± √3σ."""
    import torch

    from ganalyze.atomic import write_with
    from ganalyze.sampling import held_out_seeds, latents_for_seeds
    from ganalyze.visuals import image_grid

    alphas = [-spec.alpha_star, 0.0, spec.alpha_star]
    frames, values, labels = [], [], []
    with torch.no_grad():
        for dataset, (walk, classes) in picks.items():
            z, y = latents_for_seeds(generator, held_out_seeds(seeds), classes)
            row = torch.stack([generator(walk(z, torch.full((len(z),), a), y), y).float() for a in alphas], 1)
            frames.append(row)
            values.append(np.stack([measure(row[:, k])[spec.name].numpy() for k in range(len(alphas))], 1))
            mean, sigma = load_variant(dataset).factor_stats()[spec.name]
            half = np.sqrt(3.0) * sigma
            labels += [f"σ={sigma:.3g}: data {mean - half:.3g}..{mean + half:.3g}"] * seeds
    title = (f"{spec.name}: the shared {spec.edit} walk on the narrowest and widest data set (rows: held-out seeds); "
             f"number = {spec.name} measured from pixels; is it outside the data set's range?")
    picture = image_grid(torch.cat(frames), np.concatenate(values), alphas, labels, title,
                         score_label=f"{spec.name} measured from pixels", number_format=".3g")
    write_with(path, lambda handle: picture.save(handle, format="PNG"))
    return path


def run_power_analysis(cfg: Mapping[str, Any], train_generator: GeneratorTrainer = train_world_generator
                       ) -> dict[str, Any]:
    """Train (or load) the generator and walks, measure Δμ per (walk, factor, data set), correlate with σ, save."""
    out = Path(cfg["out_dir"])
    seed = int(cfg["seed"])
    family = family_datasets(cfg)
    specs, kinds = resolve_factors(cfg, family)
    datasets = list(dict.fromkeys(d for spec in specs for d in spec.datasets))
    generator = frozen_world_generator(train_generator, datasets, out / "generator", cfg["generator"], seed)
    num_seeds, batch = int(cfg["eval"]["num_seeds"]), int(cfg["eval"]["batch_size"])
    walks = list(WALKS) if cfg.get("per_dataset_walks", True) else ["shared"]
    rows, shifts, steer, grids = [], {}, {}, {}
    for walk_kind in walks:  # every shared walk first: the per-data-set walks are many and may not finish
        for spec in specs:
            kind = kinds[spec.name]
            all_classes = [c for d in spec.datasets for c in dataset_classes(datasets.index(d))]
            folder = out / "measures" / f"{walk_kind}_{spec.name}_{kind}"
            if walk_kind == "shared":
                walk = fit_walk(generator, spec, kind, all_classes, out / "walks" / f"shared_{spec.name}_{kind}", cfg, seed)
                steer[spec.name] = limits(generator, walk, spec, all_classes, out / "limits" / f"{spec.name}_{kind}", cfg)
            for dataset in tqdm(spec.datasets, desc=f"{walk_kind} {spec.name} ({kind})"):
                classes = dataset_classes(datasets.index(dataset))
                if walk_kind == "per_dataset":
                    walk = fit_walk(generator, spec, kind, classes, out / "walks" / f"{spec.name}_{kind}_{dataset}", cfg, seed)
                shift = cached_shift(folder / f"{dataset}.json",
                                     lambda: measure_seeds(generator, walk, spec, num_seeds, batch, classes))
                mean, sigma = load_variant(dataset).factor_stats()[spec.name]
                period = CIRCULAR.get(spec.name)
                model_sigma = spread(shift.at_zero, period)[1]
                walked = np.concatenate([shift.at_zero + shift.minus, shift.at_zero + shift.plus])
                shifts[(walk_kind, spec.name, dataset)] = shift
                rows.append({"walk": walk_kind, "factor": spec.name, "edit": spec.edit, "transformer": kind,
                             "alpha_star": spec.alpha_star, "dataset": dataset, "data_sigma": sigma,
                             "delta_mu": shift.delta_mu, "delta_plus": float(shift.plus.mean()),
                             "delta_minus": float(shift.minus.mean()), "model_sigma": model_sigma,
                             "outside_real": real_outside(dataset, spec.name, generator.resolution),
                             "outside_at_zero": outside_range(shift.at_zero, mean, sigma, period),
                             "outside_walked": outside_range(walked, mean, sigma, period)})
                if walk_kind == "shared" and dataset in extremes(spec.datasets, spec.name):
                    grids.setdefault(spec.name, {})[dataset] = (walk, classes)
    summary = analyse(rows, shifts, int(cfg["eval"]["bootstrap"]), seed)
    saved = save_power_results(out / "results", rows, summary, steer, cfg, design_correlation(family))
    for factor, picks in grids.items():
        spec = next(s for s in specs if s.name == factor)
        saved[f"grid_{factor}"] = plot_extrapolation(generator, spec, picks, out / "results" /
                                                     f"steer_power_{factor}_extremes.png")
    print(table_markdown(summary))
    print(f"steerability-power results written to {saved['json'].parent}")
    return {"rows": rows, "summary": summary, "steerability": steer, "paths": saved}


def save_power_results(folder: Path, rows: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]],
                       steer: Mapping[str, Any], cfg: Mapping[str, Any], design_r: float) -> dict[str, Path]:
    """power_table.md / .csv, power_rows.csv, power_results.json, a scatter per factor and the limits figure."""
    from ganalyze.steer_power_plots import plot_limits, plot_scatter

    paths = {"markdown": folder / "power_table.md", "table": folder / "power_table.csv",
             "rows": folder / "power_rows.csv", "json": folder / "power_results.json",
             "limits": folder / "steer_power_limits.png"}
    write_text(paths["markdown"], table_markdown(summary))
    write_text(paths["table"], csv_text(summary))
    write_text(paths["rows"], csv_text(rows))
    brief = {f: {k: v for k, v in s.items() if k != "sliders"} | s["sliders"]["all"] for f, s in steer.items()}
    write_json(paths["json"], {"summary": list(summary), "rows": list(rows), "steerability": brief,
                               "design_max_abs_r_between_factor_spreads": design_r, "config": dict(cfg)})
    for factor in dict.fromkeys(r["factor"] for r in rows):
        paths[f"scatter_{factor}"] = plot_scatter(rows, summary, factor, folder / f"steer_power_{factor}.png")
    plot_limits(brief, paths["limits"])
    return paths
