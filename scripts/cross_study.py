"""The cross-assessor study on the shapes world (issue 21): train a direction per image-factor assessor, measure
every direction with every assessor and true factor, and compare three ways of raising brightness while holding size.

    OMP_NUM_THREADS=1 python scripts/cross_study.py [out_dir=runs/cross] [seed=0] [num_seeds=200] [bootstrap=200]

Steps (each skipped when its output exists, so a killed study resumes):
1. ``ganalyze-train assessor=<name> logger=none eval.enabled=false`` with default settings for shapes_size,
   brightness, colourfulness, redness, centeredness and simplicity (wall time recorded in timings.json);
2. ``objective=hold`` for brightness (holds shapes_size, the packaged weight);
3. the conditional direction brightness | shapes_size (``transformer=conditional train.steps=0``), with the
   projected length and rescaled to the primary's norm;
4. ``ganalyze-cross`` over the six runs (the matrix) and over the brightness variants (the comparison),
   and a Markdown table of the comparison in <out_dir>/comparison.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ganalyze.atomic import write_json, write_text

ASSESSORS = ("shapes_size", "brightness", "colourfulness", "redness", "centeredness", "simplicity")
VARIANTS = {  # run name: ganalyze-train overrides (beyond logger=none eval.enabled=false seed run_dir)
    "brightness_hold": ["assessor=brightness", "objective=hold"],
    "brightness_given_size": ["assessor=brightness", "transformer=conditional", "train.steps=0",
                              "transformer.primary={out}/brightness", "transformer.conditions=[{out}/shapes_size]",
                              "transformer.length=projected"],
    "brightness_given_size_norm": ["assessor=brightness", "transformer=conditional", "train.steps=0",
                                   "transformer.primary={out}/brightness", "transformer.conditions=[{out}/shapes_size]",
                                   "transformer.length=primary_norm"],
}
COMPARED = ("brightness", "brightness_hold", "brightness_given_size", "brightness_given_size_norm")


def run(command: list[str]) -> float:
    """Run a command with one CPU thread; return its wall time; stop with its stderr on failure."""
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def train_runs(out: Path, seed: int, timings: dict[str, float]) -> None:
    """Train every run not trained yet (a run is done when its transformer folder exists); record wall times."""
    bin_dir = Path(sys.executable).parent
    jobs = {name: [f"assessor={name}"] for name in ASSESSORS}
    jobs.update({name: [o.format(out=out) for o in overrides] for name, overrides in VARIANTS.items()})
    for name, overrides in jobs.items():
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
    print((out / "comparison.md").read_text())
    return 0


def comparison_table(report: dict, timings: dict[str, float]) -> str:
    """Markdown: per brightness variant, own ρ and slope, true-size ρ, class kept, training time (with intervals)."""
    lines = ["| direction | brightness ρ [95% CI] | brightness slope | true-size ρ [95% CI] | class kept (low / high) "
             "| training wall time (s) |", "|---|---|---|---|---|---|"]
    for name in COMPARED:
        row = next(r for r in report["rows"] if Path(r["run"]).name == name)
        own, size = row["entries"]["assessor:brightness"], row["entries"]["true:size"]
        kept = row.get("class", {})
        train_s = timings.get(name)
        lines.append(
            f"| {name} | {own['spearman']:+.3f} [{own['spearman_ci'][0]:+.3f}, {own['spearman_ci'][1]:+.3f}] "
            f"| {own['slope']:.3f} | {size['spearman']:+.3f} [{size['spearman_ci'][0]:+.3f}, {size['spearman_ci'][1]:+.3f}] "
            f"| {kept.get('preserved_at_low', float('nan')):.3f} / {kept.get('preserved_at_high', float('nan')):.3f} "
            f"| {'' if train_s is None else f'{train_s:.0f}'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
