"""ganalyze-factors: how image factors (and the shapes world's true factors) change along a trained direction.

    ganalyze-factors run_dir=runs/brightness/2026-01-01_12-00-00 [eval.num_seeds=200] [logger=none] [device=cuda]

Uses the run's evaluation settings (held-out seeds, α grid; eval.* may be overridden) and writes
<run_dir>/factors: factors.csv and factors.json (one row per direction and factor), factors.png,
and metrics.json / rows.csv with every measurement per seed and α; the table is also logged.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from ganalyze.build import build_assessor, build_generator, build_logger, plain
from ganalyze.cli.common import eval_settings, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.cli.evaluate import run_dir_command
from ganalyze.cli.train import TRANSFORMER_DIR
from ganalyze.evaluation import evaluate, save_evaluation
from ganalyze.factor_analysis import COLUMNS, factor_table, factor_tools, plot_factors, save_factor_table
from ganalyze.transformers import load_transformer

FACTORS_DIR = "factors"


def run_factor_analysis(cfg: DictConfig) -> Path:
    """Rebuild the run's generator, assessor and direction, sweep them measuring every factor, save and log."""
    device = setup_torch(cfg)
    run_dir = Path(cfg.run_dir)
    generator = build_generator(cfg.generator).to(device)
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
    run_dir_command(run_factor_analysis, __doc__, argv)


if __name__ == "__main__":
    main()
