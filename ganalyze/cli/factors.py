"""ganalyze-factors: how image factors (and the shapes world's true factors) change along a trained direction.

    ganalyze-factors run_dir=runs/brightness/2026-01-01_12-00-00 [eval.num_seeds=200] [logger=none] [device=cuda]

Uses the run's evaluation settings (held-out seeds, α grid; eval.* may be overridden) and writes
<run_dir>/factors: factors.csv and factors.json (one row per direction and factor), factors.png,
and metrics.json / rows.csv with every measurement per seed and α; the table is also logged.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig

from ganalyze.build import build_assessor, build_generator, build_logger, plain
from ganalyze.cli.common import eval_settings, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.cli.evaluate import run_dir_command
from ganalyze.cli.train import TRANSFORMER_DIR
from ganalyze.evaluation import evaluate, save_evaluation
from ganalyze.errors import ConfigError
from ganalyze.factor_analysis import COLUMNS, factor_table, factor_tools, plot_factors, save_factor_table
from ganalyze.generators.base import Generator
from ganalyze.memory_budget import check_bytes, check_fits
from ganalyze.transformers import load_transformer
from ganalyze.typed_settings import convert, output_folder

FACTORS_DIR = "factors"
ROW_BYTES = 2 * 32 * 8  # per seed and α: two directions × about 32 measured numbers, 8 bytes each


def check_sizes(node: DictConfig, generator: Generator) -> None:
    """Refuse eval.* sizes whose latents, measurements or batch of images cannot fit in memory, before any sweep."""
    seeds, alphas, batch = (convert(int, node[k], f"eval.{k}", f"eval.{k}={default}")
                            for k, default in (("num_seeds", 200), ("num_alphas", 9), ("batch_size", 250)))
    convert(float, node["alpha_scale"], "eval.alpha_scale", "eval.alpha_scale=2")
    if min(seeds, alphas, batch) >= 1:
        check_bytes(seeds * (generator.dim_z * 4 + alphas * ROW_BYTES), f"eval.num_seeds={seeds} x eval.num_alphas={alphas}",
                    "lower them, e.g. eval.num_seeds=200 eval.num_alphas=9.")
        check_fits(batch, generator.resolution, f"eval.batch_size={batch}", hint="lower it, e.g. eval.batch_size=250.")


def run_factor_analysis(cfg: DictConfig) -> Path:
    """Rebuild the run's generator, assessor and direction, sweep them measuring every factor, save and log."""
    device = setup_torch(cfg)
    run_dir = Path(cfg.run_dir)
    output_folder("the factors folder", run_dir / FACTORS_DIR)
    generator = build_generator(cfg.generator).to(device)
    check_sizes(cfg.eval, generator)
    assessor = build_assessor(cfg.assessor).to(device)
    transformer = load_transformer(run_dir / TRANSFORMER_DIR).to(device)
    settings = eval_settings(cfg.eval, generator)
    tools, true_names = factor_tools(generator, settings.world)
    alpha_range = tuple(float(v) for v in cfg.train.alpha_range)
    evaluation = evaluate(generator, transformer, assessor, alpha_range, settings, seed=cfg.seed, tools=tools)
    out = run_dir / FACTORS_DIR
    save_evaluation(evaluation, out)
    rows = factor_table(evaluation, true_names)
    save_factor_table(rows, evaluation, out)
    logger = build_logger(cfg.logger, run_dir, name=f"{run_dir.name}-factors", config=plain(cfg), job_type="factors")
    try:
        logger.log_table("factors/table", list(COLUMNS), [[row[c] for c in COLUMNS] for row in rows])
        logger.log_images({"factors/changes_vs_alpha": plot_factors(evaluation, out / "factors.png")})
    finally:
        logger.finish()
    for row in rows:
        if row["direction"] == "trained":
            print(f"{row['factor']:>16} ({row['source']}): ρ={row['spearman']:+.3f}  slope={row['slope']:+.4g}  "
                  f"standardised change={row['standardised_change']:+.3f}")
    print(f"factor analysis written to {out}")
    return out


@reports_errors("ganalyze-factors")
def main(argv: list[str] | None = None) -> None:
    """Entry point of ganalyze-factors."""
    args = sys.argv[1:] if argv is None else argv
    if any(a.partition("=")[0] == "run_dir" and not a.partition("=")[2].strip() for a in args):
        raise ConfigError("run_dir is empty; give the run folder ganalyze-train printed, e.g. "
                          "run_dir=runs/brightness/2026-01-01_12-00-00.")
    run_dir_command(run_factor_analysis, __doc__, args)


if __name__ == "__main__":
    main()
