"""The cross-assessor study on the shapes world (issue 21): train a direction per image-factor assessor, measure
every direction with every assessor and true factor, and compare three ways of raising brightness while holding size.

    OMP_NUM_THREADS=1 python scripts/cross_study.py [out_dir=runs/cross] [seed=0] [num_seeds=200] [bootstrap=200]

Steps (each skipped when its output exists, so a killed study resumes):
1. ``ganalyze-train assessor=<name> logger=none eval.enabled=false`` with default settings for shapes_size,
   brightness, colourfulness, redness, centeredness and simplicity (wall time recorded in timings.json);
2. ``objective=hold`` for brightness (holds shapes_size, the packaged weight);
3. the conditional direction brightness | shapes_size (``transformer=conditional train.steps=0``), with the
   projected length and rescaled to the primary's norm; the same trained on (default steps), its walk kept
   orthogonal to the size direction; and brightness conditioned on the mean gradient of the shapes_size score
   (alone, and with the size direction: two conditions) and on the mean gradient of the true size measured from
   pixels (an oracle: the fixed direction that cancels the average seed's first-order size change);
4. ``ganalyze-cross`` over the six runs (the matrix) and over the brightness variants (the comparison),
   a Markdown table of the comparison in <out_dir>/comparison.md, and <out_dir>/first_order.json: each
   variant's first-order size change per seed (size gradient · direction), the reason a fixed direction leaks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from assessors import create_assessor
from ganalyze.atomic import write_json, write_text
from ganalyze.build import build_generator, plain
from ganalyze.sampling import held_out_seeds, latents_for_seeds, stream_seed
from ganalyze.transformers import LinearTransformer
from ganalyze.transformers.conditional import run_transformer
from ganalyze.world.measure import coverage_map

ASSESSORS = ("shapes_size", "brightness", "colourfulness", "redness", "centeredness", "simplicity")
VARIANTS = {  # run name: ganalyze-train overrides (beyond logger=none eval.enabled=false seed run_dir)
    "brightness_hold": ["assessor=brightness", "objective=hold"],
    "brightness_given_size": ["assessor=brightness", "transformer=conditional", "train.steps=0",
                              "transformer.primary={out}/brightness", "transformer.conditions=[{out}/shapes_size]",
                              "transformer.length=projected"],
    "brightness_given_size_norm": ["assessor=brightness", "transformer=conditional", "train.steps=0",
                                   "transformer.primary={out}/brightness", "transformer.conditions=[{out}/shapes_size]",
                                   "transformer.length=primary_norm"],
    "brightness_given_size_trained": ["assessor=brightness", "transformer=conditional",
                                      "transformer.primary={out}/brightness", "transformer.conditions=[{out}/shapes_size]"],
    "brightness_given_size_gradient": ["assessor=brightness", "transformer=conditional", "train.steps=0",
                                       "transformer.primary={out}/brightness",
                                       "transformer.conditions=[{out}/size_gradient]"],
    "brightness_given_size_and_gradient": ["assessor=brightness", "transformer=conditional", "train.steps=0",
                                           "transformer.primary={out}/brightness",
                                           "transformer.conditions=[{out}/shapes_size,{out}/size_gradient]"],
    "brightness_given_true_size_gradient": ["assessor=brightness", "transformer=conditional", "train.steps=0",
                                            "transformer.primary={out}/brightness",
                                            "transformer.conditions=[{out}/true_size_gradient]"],
}
COMPARED = ("brightness", "brightness_hold", "brightness_given_size", "brightness_given_size_norm",
            "brightness_given_size_trained", "brightness_given_size_gradient", "brightness_given_size_and_gradient",
            "brightness_given_true_size_gradient")
GRADIENT_LATENTS = 256  # latents (training stream, not held out) averaged into the size-gradient direction


def run(command: list[str]) -> float:
    """Run a command with one CPU thread; return its wall time; stop with its stderr on failure."""
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def assessor_size(images: torch.Tensor) -> torch.Tensor:
    """The shapes_size assessor's score (the size the size direction was trained on)."""
    return create_assessor("shapes_size")(images)


def true_size(images: torch.Tensor) -> torch.Tensor:
    """The true object size measured from pixels (the world's linear coverage estimate), with gradients."""
    return coverage_map(images.clamp(0.0, 1.0))[2].mean((1, 2))


SIZES = {"size_gradient": assessor_size, "true_size_gradient": true_size}  # folder: the size its gradient is of


def size_gradients(generator: torch.nn.Module, z: torch.Tensor, y: torch.Tensor, size) -> torch.Tensor:
    """Per-latent gradients (n, dim_z) of size(G(z, y)): each seed's first-order size direction."""
    z = z.clone().requires_grad_(True)
    size(generator(z, y)).sum().backward()  # samples are independent (eval mode), so this is per-sample
    return z.grad.detach()


def shapes_generator(out: Path) -> torch.nn.Module:
    """The generator the study's runs were trained on."""
    return build_generator(plain(OmegaConf.load(out / "shapes_size" / "config.yaml").generator))


def save_size_gradients(out: Path, seed: int, timings: dict[str, float]) -> None:
    """The mean gradient of each size of SIZES over training-stream latents (not the held-out seeds), saved like a
    trained direction (out/<name>/transformer) at the trained size direction's norm: a first-order size direction."""
    for name, size in SIZES.items():
        folder = out / name
        if (folder / "transformer" / "config.json").is_file():
            continue
        start = time.perf_counter()
        generator = shapes_generator(out)
        z, y = generator.sample_latents(GRADIENT_LATENTS, stream_seed(seed, "size_gradient"))
        mean = size_gradients(generator, z, y, size).mean(0, keepdim=True)
        norm = run_transformer(out / "shapes_size").theta.detach().norm()
        direction = LinearTransformer(mean.shape[1])
        with torch.no_grad():
            direction.theta.copy_(mean / mean.norm() * norm)
        direction.save_pretrained(folder / "transformer")
        timings[name] = time.perf_counter() - start


def walked(folder: Path) -> torch.Tensor:
    """The (first) direction a run walks, in float64."""
    model = run_transformer(folder)
    return (model.direction() if hasattr(model, "direction") else model.theta).detach().double()[0]


def first_order(out: Path, num_seeds: int) -> dict:
    """On held-out seeds, for the assessor's and the true size: how seed-consistent the size gradients are, how
    aligned the trained size direction is with their mean, and per compared direction the first-order size change
    per unit α (gradient · direction): its mean, mean |·| and the share of seeds it shrinks."""
    generator = shapes_generator(out)
    z, y = latents_for_seeds(generator, held_out_seeds(num_seeds))
    size_dir = walked(out / "shapes_size")
    report = {"num_seeds": num_seeds}
    for name, size in SIZES.items():
        grads = size_gradients(generator, z, y, size).double()
        mean = grads.mean(0)
        rows = {}
        for run in COMPARED:
            d = walked(out / run)
            change = grads @ d
            rows[run] = {"mean_change_per_alpha": float(change.mean()), "mean_abs_change_per_alpha":
                         float(change.abs().mean()), "share_of_seeds_shrunk": float((change < 0).double().mean()),
                         "cos_with_size_direction": float(d @ size_dir / d.norm() / size_dir.norm()),
                         "cos_with_mean_gradient": float(d @ mean / d.norm() / mean.norm())}
        report[name] = {"cos_size_direction_mean_gradient": float(size_dir @ mean / size_dir.norm() / mean.norm()),
                        "seed_consistent_energy": float(mean.norm() ** 2 / (grads.norm(dim=1) ** 2).mean()),
                        "directions": rows}
    return report


def train_runs(out: Path, seed: int, timings: dict[str, float]) -> None:
    """Train every run not trained yet (a run is done when its transformer folder exists); record wall times."""
    bin_dir = Path(sys.executable).parent
    jobs = {name: [f"assessor={name}"] for name in ASSESSORS}
    jobs.update({name: [o.format(out=out) for o in overrides] for name, overrides in VARIANTS.items()})
    for name, overrides in jobs.items():
        if name == next(iter(VARIANTS)):
            save_size_gradients(out, seed, timings)
        run_dir = out / name
        if (run_dir / "transformer" / "config.json").is_file():
            continue
        timings[name] = run([str(bin_dir / "ganalyze-train"), "logger=none", "eval.enabled=false", f"seed={seed}",
                             f"run_dir={run_dir}", *overrides])
        write_json(out / "timings.json", timings)


def main(args: list[str]) -> int:
    """Train, measure and tabulate; the reports land in <out_dir>/matrix and <out_dir>/brightness_size."""
    options = dict(a.split("=", 1) for a in args)
    out = Path(options.get("out_dir", "runs/cross"))
    seed = int(options.get("seed", 0))
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    train_runs(out, seed, timings)
    bin_dir = Path(sys.executable).parent
    measure = [f"num_seeds={options.get('num_seeds', 200)}", f"bootstrap={options.get('bootstrap', 200)}"]
    if not (out / "matrix" / "cross.json").is_file():
        run([str(bin_dir / "ganalyze-cross"), *(str(out / n) for n in ASSESSORS), f"out={out / 'matrix'}", *measure])
    if not (out / "brightness_size" / "cross.json").is_file():
        run([str(bin_dir / "ganalyze-cross"), *(str(out / n) for n in COMPARED), str(out / "shapes_size"),
             f"out={out / 'brightness_size'}", *measure])
    write_text(out / "comparison.md", comparison_table(json.loads((out / "brightness_size" / "cross.json").read_text()),
                                                        timings))
    write_json(out / "first_order.json", first_order(out, int(options.get("num_seeds", 200))))
    print((out / "comparison.md").read_text())
    print((out / "first_order.json").read_text())
    return 0


def comparison_table(report: dict, timings: dict[str, float]) -> str:
    """Markdown: per brightness variant, own ρ and slope, true-size ρ, class kept, training time (with intervals)."""
    lines = ["| direction | brightness ρ [95% CI] | brightness slope | true-size ρ [95% CI] | true-size mean abs change "
             "at ±0.02 [95% CI] | class kept (low / high) | wall time (s) |", "|---|---|---|---|---|---|---|"]
    for name in COMPARED:
        row = next(r for r in report["rows"] if Path(r["run"]).name == name)
        own, size = row["entries"]["assessor:brightness"], row["entries"]["true:size"]
        kept = row.get("class", {})
        train_s = timings.get(name)
        lines.append(
            f"| {name} | {own['spearman']:+.3f} [{own['spearman_ci'][0]:+.3f}, {own['spearman_ci'][1]:+.3f}] "
            f"| {own['slope']:.3f} | {size['spearman']:+.3f} [{size['spearman_ci'][0]:+.3f}, {size['spearman_ci'][1]:+.3f}] "
            f"| {size['mean_abs_change_at_ends']:.4f} [{size['mean_abs_change_at_ends_ci'][0]:.4f}, "
            f"{size['mean_abs_change_at_ends_ci'][1]:.4f}] "
            f"| {kept.get('preserved_at_low', float('nan')):.3f} / {kept.get('preserved_at_high', float('nan')):.3f} "
            f"| {'' if train_s is None else f'{train_s:.0f}'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
