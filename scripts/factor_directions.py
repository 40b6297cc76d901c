"""Train a direction with each image-factor assessor on the shapes world and check that it moves its own factor
(the assessors issue's target): for brightness Spearman ρ(α, Δ brightness) ≥ 0.9 with the true object size
nearly still (|ρ| ≤ 0.3); for the others ρ ≥ 0.8. Resumable (a factor whose run folder holds its analysis is
skipped, whatever the overrides); writes <out_dir>/factor_directions.json and .csv.

    OMP_NUM_THREADS=1 python scripts/factor_directions.py out_dir=runs/factor_directions [factors=brightness,redness] \
        [any ganalyze-train override, e.g. train.steps=500] [<factor>:<override>, for that factor's run only]

The settings that meet the targets (see the assessor configs for why):

    OMP_NUM_THREADS=1 python scripts/factor_directions.py out_dir=runs/factor_directions_seed0 seed=0 \
        brightness:objective=hold \
        centeredness:transformer=nonlinear centeredness:train.lr=0.01 centeredness:train.steps=600 \
        simplicity:transformer=nonlinear simplicity:train.lr=0.01 simplicity:train.steps=600
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from assessors.factors import FACTORS

CLASS_KEYS = ("class_preserved_at_low", "class_preserved_at_high")
COLUMNS = ("factor", "own_spearman", "true_size_spearman", "met", *CLASS_KEYS, "overrides", "train_s", "factors_s")


def run(command: list[str]) -> float:
    """Run a ganalyze command with one CPU thread; return its wall time; stop with its stderr on failure."""
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def check(factor: str, analysis_dir: Path) -> dict:
    """The trained direction's ρ for its own factor and for the true size, whether the targets are met, and the
    fraction of seeds keeping their class at both ends of the trained α range."""
    table = json.loads((analysis_dir / "factors.json").read_text())["factors"]
    summary = json.loads((analysis_dir / "metrics.json").read_text())["summary"]
    rho = {row["factor"]: row["spearman"] for row in table if row["direction"] == "trained"}
    own, size = rho[factor], rho.get("size")
    met = own is not None and own >= (0.9 if factor == "brightness" else 0.8)
    if factor == "brightness":
        met = met and size is not None and abs(size) <= 0.3
    return {"factor": factor, "own_spearman": own, "true_size_spearman": size, "met": met,
            **{key: summary.get(f"trained/{key}") for key in CLASS_KEYS}}


def main(args: list[str]) -> int:
    """Train and analyse every factor not done yet; print and save the summary; 0 when all targets are met."""
    options = dict(a.split("=", 1) for a in args if a.startswith(("out_dir=", "factors=")))
    overrides = [a for a in args if not a.startswith(("out_dir=", "factors="))]
    per_factor = {factor: [a.split(":", 1)[1] for a in overrides if a.startswith(f"{factor}:")] for factor in FACTORS}
    shared = [a for a in overrides if a.split(":", 1)[0] not in FACTORS]
    out_dir = Path(options.get("out_dir", "runs/factor_directions"))
    factors = options["factors"].split(",") if "factors" in options else list(FACTORS)
    bin_dir = Path(sys.executable).parent
    rows = []
    for factor in factors:
        run_dir = out_dir / factor
        timing = {}
        if not (run_dir / "factors" / "factors.json").is_file():
            timing["train_s"] = run([str(bin_dir / "ganalyze-train"), f"assessor={factor}", "logger=none",
                                     "eval.enabled=false", f"run_dir={run_dir}", *shared, *per_factor[factor]])
            timing["factors_s"] = run([str(bin_dir / "ganalyze-factors"), f"run_dir={run_dir}", "logger=none",
                                       "eval.random_directions=1"])
        rows.append({**check(factor, run_dir / "factors"), "overrides": " ".join(shared + per_factor[factor]), **timing})
        print(json.dumps(rows[-1]))
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join(["scripts/factor_directions.py", *args]), "rows": rows}
    (out_dir / "factor_directions.json").write_text(json.dumps(report, indent=2) + "\n")
    with (out_dir / "factor_directions.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
