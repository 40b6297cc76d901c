"""Does Name That Dataset find bias where there is none? Identical variants (same settings, other seeds), many seeds.

    OMP_NUM_THREADS=1 python scripts/audit_chance.py --variant broad --seeds 10 --out runs/audit/chance.json

Each seed draws two fresh samples of one variant and runs the audit as ganalyze-audit does; a sound audit puts
chance inside its 95% interval in about 95% of seeds (an exact interval: at least 95% on average).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from ganalyze.atomic import write_json  # noqa: E402
from ganalyze.audit import ClassifierSettings, load_sources, name_that_dataset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="broad")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n", type=int, default=600, help="images per sample (as ganalyze-audit's default)")
    parser.add_argument("--out", type=Path, default=Path("runs/audit/chance.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    start, runs = time.perf_counter(), []
    for seed in range(args.seeds):
        result = name_that_dataset(load_sources([args.variant, args.variant], args.n, seed), ClassifierSettings(), seed)
        runs.append({"seed": seed, "accuracy": result["accuracy"], "interval": result["interval"],
                     "chance": result["chance"], "at_chance": result["at_chance"]})
        print(f"seed {seed}: accuracy {result['accuracy']:.3f} [{result['interval'][0]:.3f}, "
              f"{result['interval'][1]:.3f}], chance inside: {result['at_chance']}", flush=True)
    inside = sum(r["at_chance"] for r in runs)
    summary = {"variant": args.variant, "n_per_sample": args.n, "seeds": args.seeds, "chance_inside": inside,
               "mean_accuracy": sum(r["accuracy"] for r in runs) / len(runs), "runs": runs,
               "seconds": time.perf_counter() - start}
    write_json(args.out, summary)
    print(f"chance inside the interval in {inside} of {args.seeds} seeds; mean accuracy "
          f"{summary['mean_accuracy']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
