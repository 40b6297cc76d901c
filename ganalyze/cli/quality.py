"""ganalyze-quality: the quality report of a shapes-world generator (class accuracy, factor W1, coverage)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ganalyze.cli.errors import reports_errors
from ganalyze.errors import ConfigError
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.memory_budget import check_fits
from ganalyze.typed_settings import output_folder
from ganalyze.world import load_variant
from ganalyze.world.classifier import ShapeClassifier
from ganalyze.world.quality import flat_metrics, format_report, quality_report

MAX_THREADS = 1024


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="ganalyze-quality", description=__doc__)
    parser.add_argument("--num-samples", type=int, default=3000, help="generated and real images each (default 3000)")
    parser.add_argument("--out-dir", default="runs/quality", help="folder for quality.json and samples.png")
    parser.add_argument("--generator-dir", default=None,
                        help="folder written by ShapesGenerator.save_pretrained (default: the shipped weights)")
    parser.add_argument("--classifier-dir", default=None, help="shape classifier folder (default: the shipped one)")
    parser.add_argument("--variant", default="broad", help="world variant of the real images (default broad)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--logger", choices=("none", "wandb"), default="none",
                        help="also log the numbers and the sample grid to wandb (online with a key, else offline)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a bar is not met")
    return parser.parse_args(argv)


def log_to_wandb(report: dict, args: argparse.Namespace) -> None:
    """Log the headline numbers and the sample grid as a wandb run of job type ``quality``."""
    from ganalyze.logger import WandbLogger

    logger = WandbLogger(run_dir=args.out_dir, name=f"quality-{args.variant}", run_config=vars(args), job_type="quality")
    logger.log_metrics(flat_metrics(report))
    logger.log_images({"quality/samples": Path(args.out_dir) / "samples.png"})
    logger.finish()


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad numbers, an unusable output folder and an unknown variant before any work."""
    if not 1 <= args.threads <= MAX_THREADS:
        raise ConfigError(f"--threads {args.threads} must be between 1 and {MAX_THREADS}; e.g. --threads 1.")
    if args.seed < 0:
        raise ConfigError(f"--seed {args.seed} must be >= 0; e.g. --seed 0.")
    if args.num_samples < 1:
        raise ConfigError(f"--num-samples {args.num_samples} must be a positive whole number; e.g. --num-samples 3000.")
    load_variant(args.variant)  # an unknown name fails here, listing the variants
    output_folder("--out-dir", args.out_dir)


@reports_errors("ganalyze-quality")
def main(argv: list[str] | None = None) -> int:
    """Run the report; exit 2 on bad input (one paragraph), 1 on failed bars with --check."""
    args = parse_args(argv)
    check_args(args)
    torch.set_num_threads(args.threads)
    generator = ShapesGenerator.from_pretrained(args.generator_dir)
    if args.num_samples < 3 * generator.num_classes:
        raise ConfigError(f"--num-samples {args.num_samples} is too few: the report needs at least 3 per class "
                          f"({3 * generator.num_classes}); e.g. --num-samples 3000.")
    check_fits(2 * args.num_samples, generator.resolution, f"--num-samples {args.num_samples} (real and generated)",
               hint="lower it, e.g. --num-samples 3000.")
    classifier = ShapeClassifier.from_pretrained(args.classifier_dir)
    report = quality_report(generator, args.num_samples, args.seed, args.variant, classifier, args.out_dir,
                            name=args.generator_dir or "the shipped ShapesGenerator")
    print(format_report(report))
    print(f"saved {args.out_dir}/quality.json and {args.out_dir}/samples.png")
    if args.logger == "wandb":
        log_to_wandb(report, args)
    return 1 if args.check and not report["all_passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
