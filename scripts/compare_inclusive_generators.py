"""Baseline against inclusive (IMLE) shapes generators over training seeds: the IMLE-GAN table of issue 20.

Each run folder holds audit/report.json (ganalyze-audit audit=inclusiveness) and quality/quality.json
(ganalyze-quality); an arm is a glob of run folders, one per training seed. Per arm: the rare class's data and
generated rate, precision, recall and modes covered, all-image precision and recall, and the majority's
quality (the lowest class accuracy over the other classes, the largest factor W1/σ), as mean with a 95%
t-interval over seeds. The first arm is the baseline: every other arm also gets the per-seed differences from it
(runs paired by their folders' _s<seed> suffix), whose interval is the comparison's. With --reference WORLD a first row scores held-out real images of WORLD as if they were a
generator's (same audit, same counts): what a perfect generator gets from these k-NN metrics at this sample size.
Example (scripts/inclusive_generator_study.sh runs it):
    python scripts/compare_inclusive_generators.py --arm 'baseline=runs/inclusive/baseline_s*' \
        --arm 'IMLE=runs/inclusive/imle_s*' --rare star --reference rare_class --out runs/inclusive/table
"""

from __future__ import annotations

import argparse
import glob
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ganalyze.atomic import write_json, write_text
from ganalyze.audit.inclusiveness import inclusiveness
from ganalyze.audit.sources import SEED_STRIDE, from_variant
from ganalyze.cli.errors import reports_errors
from ganalyze.errors import ConfigError
from ganalyze.world import SHAPE_NAMES
from ganalyze.world.quality import BARRED_FACTORS

REFERENCE_SEED_OFFSET = 7 * SEED_STRIDE  # a draw of real images that no audit or training uses
COLUMNS = (("rare_data_rate", "data rate"), ("rare_generated_rate", "generated rate"),
           ("rare_precision", "precision"), ("rare_recall", "recall"), ("rare_modes_covered", "share of modes covered"),
           ("rare_class_accuracy", "class accuracy"), ("all_precision", "precision"), ("all_recall", "recall"),
           ("majority_accuracy_min", "min class accuracy"), ("w1_sigma_max", "max W1/σ"))


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file, or a ConfigError naming the run folder that lacks it."""
    if not path.is_file():
        raise ConfigError(f"{path} is missing: every run folder needs audit/report.json (ganalyze-audit "
                          f"audit=inclusiveness out_dir=RUN/audit) and quality/quality.json (ganalyze-quality --out-dir RUN/quality).")
    return json.loads(path.read_text())


def table_numbers(audit: dict[str, Any], accuracy: dict[str, float], rare: str, w1_sigma_max: float) -> dict[str, float]:
    """The table's numbers from an inclusiveness audit, per-class accuracies and the largest factor W1/σ."""
    row = next(r for r in audit["attributes"] if r["attribute"] == "class" and r["value"] == rare)
    modes = audit["mode_coverage"]["per_class"][rare]
    return {"rare_data_rate": row["data_rate"], "rare_generated_rate": row["generated_rate"],
            "rare_precision": row["precision"] if row["precision"] is not None else float("nan"),
            "rare_recall": row["recall"] if row["recall"] is not None else float("nan"),
            "rare_modes_covered": modes["covered"] / max(modes["modes"], 1), "rare_class_accuracy": accuracy[rare],
            "all_precision": audit["overall"]["precision"], "all_recall": audit["overall"]["recall"],
            "majority_accuracy_min": min(v for k, v in accuracy.items() if k != rare), "w1_sigma_max": w1_sigma_max}


def run_numbers(folder: Path, rare: str) -> dict[str, float]:
    """The table's numbers of one trained generator."""
    audit, quality = read_json(folder / "audit" / "report.json"), read_json(folder / "quality" / "quality.json")
    return table_numbers(audit, quality["class_accuracy"]["generated_per_class"], rare,
                         max(quality["factors"][f]["w1_sigma"] or float("inf") for f in BARRED_FACTORS))


def reference_numbers(world: str, rare: str, n: int = 3000, seed: int = 0) -> dict[str, float]:
    """The table's numbers for ``n`` held-out real images of ``world`` judged against the audit's data draw (its seed
    and count as ganalyze-audit's defaults); majority class accuracy is the classifier's on real images, W1 is n/a."""
    data = from_variant(world, n, seed)
    held_out = from_variant(world, n, seed + REFERENCE_SEED_OFFSET, label=f"{world} (held out)")
    result = inclusiveness(data, held_out)
    return table_numbers(result, result["class_fidelity"], rare, float("nan"))


def training_seconds(folder: Path) -> float | None:
    """Seconds of training from the trainer's log in ``folder/train.log`` (summed over resumed pieces), if any."""
    log = folder / "train.log"
    if not log.is_file():
        return None
    pieces = re.findall(r"trained steps \d+\.\.\d+ in (\d+) s", log.read_text(errors="replace"))
    return float(sum(int(p) for p in pieces)) if pieces else None


def per_run_markdown(arms: dict[str, dict[str, Any]], rare: str) -> str:
    """One row per trained generator: its rare-class numbers, its lowest majority accuracy and its training time."""
    lines = [f"| generator | run folder | {rare}: generated rate | {rare}: recall | {rare}: class accuracy | "
             "majority: min class accuracy | majority: max W1/σ | training time (s) |", "|---|---|---|---|---|---|---|---|"]
    for name, arm in arms.items():
        for folder, r in arm["runs"].items():
            seconds = r.get("train_seconds")
            lines.append(f"| {name} | {folder} | {r['rare_generated_rate']:.3f} | {r['rare_recall']:.3f} | "
                         f"{r['rare_class_accuracy']:.3f} | {r['majority_accuracy_min']:.3f} | {r['w1_sigma_max']:.3f} | "
                         f"{'n/a' if seconds is None else f'{seconds:.0f}'} |")
    return "\n".join(lines) + "\n"


def summarise(values: list[float]) -> dict[str, Any]:
    """Mean and 95% t-interval over the seeds where the value is defined (precision is not when a generator
    draws none of the rare class), how many those are, and all values (None where undefined)."""
    all_x = np.asarray(values, float)
    x = all_x[np.isfinite(all_x)]
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else None
    return {"mean": float(x.mean()) if len(x) else None, "defined": len(x),
            "interval": None if half is None else [float(x.mean() - half), float(x.mean() + half)],
            "values": [float(v) if np.isfinite(v) else None for v in all_x]}


def cell(summary: dict[str, Any]) -> str:
    """'mean [low, high]', with the count of seeds when the value is undefined for some; 'n/a' for none."""
    if summary["mean"] is None:
        return "n/a"
    text = f"{summary['mean']:.3f}"
    if summary["interval"]:
        text += f" [{summary['interval'][0]:.3f}, {summary['interval'][1]:.3f}]"
    missing = len(summary["values"]) - summary["defined"]
    return text + (f" ({missing} seed{'s' if missing > 1 else ''} n/a)" if missing else "")


def markdown(arms: dict[str, dict[str, Any]], rare: str) -> str:
    """The IMLE-GAN layout: one row per generator; the minority's columns, then all images', then the majority's."""
    head = ("| generator (seeds) | " + " | ".join(f"{rare}: {label}" for _, label in COLUMNS[:6])
            + " | all: precision | all: recall | majority: min class accuracy | majority: max W1/σ |")
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, arm in arms.items():
        cells = [cell(arm["summary"][key]) for key, _ in COLUMNS]
        label = f"{name} ({len(arm['runs'])})" if arm["runs"] else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


PAIRED = ("rare_precision", "rare_recall", "rare_class_accuracy", "all_precision", "all_recall", "majority_accuracy_min")


def seed_of(folder: str) -> str | None:
    """The training seed a run folder is named for (its _s<seed> suffix), or None."""
    match = re.search(r"_s(\d+)$", folder.rstrip("/"))
    return match.group(1) if match else None


def paired_differences(arms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per arm after the first trained one (the baseline): each column of PAIRED as arm − baseline over the seeds
    both arms trained, summarised like the table (mean, 95% t-interval) with how many seeds came out higher."""
    trained = [name for name, arm in arms.items() if arm["runs"]]
    if len(trained) < 2:
        return {}
    base = {seed_of(f): r for f, r in arms[trained[0]]["runs"].items()}
    result = {}
    for name in trained[1:]:
        pairs = [(r, base[k]) for f, r in arms[name]["runs"].items() if (k := seed_of(f)) is not None and k in base]
        if not pairs:
            continue
        result[name] = {"seeds": len(pairs), "baseline": trained[0]}
        for key in PAIRED:
            diffs = [a[key] - b[key] for a, b in pairs]
            result[name][key] = {**summarise(diffs), "higher": sum(d > 0 for d in diffs if np.isfinite(d))}
    return result


def paired_markdown(paired: dict[str, dict[str, Any]], rare: str) -> str:
    """Arm − baseline per seed: mean [95% t-interval] (seeds higher of seeds paired) per column."""
    if not paired:
        return ""
    labels = [f"{rare}: precision", f"{rare}: recall", f"{rare}: class accuracy", "all: precision", "all: recall",
              "majority: min class accuracy"]
    lines = ["| arm − baseline, paired by seed | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
    for name, d in paired.items():
        cells = [f"{cell(d[k])} ({d[k]['higher']} of {d[k]['defined']} higher)" for k in PAIRED]
        lines.append(f"| {name} − {d['baseline']} ({d['seeds']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", required=True, help="NAME=GLOB of run folders (one per seed)")
    parser.add_argument("--rare", default="star", help="the rare class (default star)")
    parser.add_argument("--out", default="runs/inclusive/table", help="folder for table.json and table.md")
    parser.add_argument("--reference", default=None, help="a world variant: add a row of its held-out real images")
    parser.add_argument("--reference-n", type=int, default=3000, help="images per side of the reference (the audit's n)")
    return parser.parse_args(argv)


@reports_errors("compare_inclusive_generators")
def main(argv: list[str] | None = None) -> int:
    """Read every arm's runs, summarise over seeds, write table.json and table.md, print the table."""
    args = parse_args(argv)
    if args.rare not in SHAPE_NAMES:
        raise ConfigError(f"--rare {args.rare!r} is not a shape of the world; use one of {', '.join(SHAPE_NAMES)}.")
    arms: dict[str, dict[str, Any]] = {}
    if args.reference is not None:
        numbers = reference_numbers(args.reference, args.rare, args.reference_n)
        arms[f"held-out real {args.reference} images"] = {
            "runs": {}, "summary": {k: summarise([numbers[k]]) for k, _ in COLUMNS}}
    for spec in args.arm:
        name, sep, pattern = spec.partition("=")
        folders = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_dir())
        if not sep or not folders:
            raise ConfigError(f"--arm {spec!r} must be NAME=GLOB matching at least one run folder; it matched none.")
        runs = {str(f): {**run_numbers(f, args.rare), "train_seconds": training_seconds(f)} for f in folders}
        arms[name] = {"runs": runs, "summary": {k: summarise([r[k] for r in runs.values()]) for k, _ in COLUMNS}}
    paired = paired_differences(arms)
    table = markdown(arms, args.rare) + "\n" + paired_markdown(paired, args.rare) + "\n" + per_run_markdown(arms, args.rare)
    out = Path(args.out)
    write_json(out / "table.json", {"rare": args.rare, "arms": arms, "paired": paired})
    write_text(out / "table.md", table)
    print(table + f"saved {out}/table.json and {out}/table.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
