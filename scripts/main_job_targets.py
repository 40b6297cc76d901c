"""Run the default main job (ganalyze-train) as the README's first command does, time it, and check the
targets of the GANalyze issue on its held-out evaluation; writes <run folder>/targets.json.

    OMP_NUM_THREADS=1 python scripts/main_job_targets.py [extra ganalyze-train overrides...]
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# (summary key in eval/metrics.json, description, test on the measured value)
TARGETS = [
    ("trained/size_spearman", "Spearman ρ(α, Δ true size) ≥ 0.9", lambda v: v >= 0.9),
    ("trained/size_monotonic_fraction", "seeds with monotonic true size ≥ 90%", lambda v: v >= 0.9),
    ("random/size_spearman", "first random direction |ρ| ≤ 0.2", lambda v: abs(v) <= 0.2),
    ("random/size_abs_spearman_mean", "random directions: mean |ρ| ≤ 0.2", lambda v: v <= 0.2),
    ("trained/score_r2", "score R² against A(G(z)) + α ≥ 0.8", lambda v: v >= 0.8),
    ("trained/class_preserved_at_low", "class preserved at α = a ≥ 90%", lambda v: v >= 0.9),
    ("trained/class_preserved_at_high", "class preserved at α = b ≥ 90%", lambda v: v >= 0.9),
]
TIME_LIMIT_S = 300.0


def main(overrides: list[str]) -> int:
    """Run, time and check; return 0 when every target is met."""
    command = [str(Path(sys.executable).parent / "ganalyze-train"), *overrides]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return proc.returncode
    run_dir = Path(re.findall(r"^Run folder: (.+)$", proc.stdout, re.M)[-1])
    summary = json.loads((run_dir / "eval" / "metrics.json").read_text())["summary"]
    rows = [{"key": key, "target": text, "value": summary.get(key), "met": key in summary and test(summary[key])}
            for key, text, test in TARGETS]
    rows.append({"key": "wall_s", "target": f"whole job ≤ {TIME_LIMIT_S:.0f} s", "value": wall, "met": wall <= TIME_LIMIT_S})
    report = {"command": " ".join(["ganalyze-train", *overrides]), "cpu_count": os.cpu_count(), "targets": rows}
    (run_dir / "targets.json").write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        value = "missing" if row["value"] is None else f"{row['value']:.3f}"
        print(f"{'met ' if row['met'] else 'MISS'}  {row['target']:<42} {value}")
    print(f"run folder: {run_dir}")
    return 0 if all(row["met"] for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
