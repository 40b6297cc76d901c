"""ganalyze-eval: evaluate the direction of a finished (or checkpointed) run again, into a new folder.

    ganalyze-eval run_dir=runs/shapes_size/2026-01-01_12-00-00 [eval.num_seeds=500] [eval.out=<folder>] [logger=none]

Writes <run_dir>/eval-<date_time> (or eval.out, which must not hold files yet), so an earlier evaluation is never
overwritten. Only settings that cannot change the trained direction may change (eval.*, logger, device, threads);
the rest comes from the run's config.yaml.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ganalyze.build import build_logger
from ganalyze.cli.common import console_log
from ganalyze.cli.errors import reports_errors
from ganalyze.errors import ConfigError
from ganalyze.evaluation import EvalSettings
from ganalyze.jobs import build_roles, check_sizes, class_ids, eval_for, evaluation_job, setup_torch, trained_transformer
from ganalyze.runlock import RunLock
from ganalyze.settings import FREE_ON_EVAL, compose_config, parse_overrides, saved_config, to_settings, with_overrides

USAGE = "usage: ganalyze-eval run_dir=<run folder> [eval.<key>=<value> ...] [logger=none|wandb] [device=...] [threads=N]"


def load_run_config(args: list[str]) -> DictConfig:
    """The run's saved config with the command line's evaluation overrides applied (others refused)."""
    bad = [a for a in args if "=" not in a]
    if bad:
        raise ConfigError(f"arguments must be key=value, got {bad}. {USAGE}")
    given = parse_overrides(args)
    if "run_dir" not in given:
        raise ConfigError(f"ganalyze-eval needs run_dir=<the folder ganalyze-train printed>. {USAGE}")
    folder = str(given["run_dir"])
    overrides = [a for a in args if a.partition("=")[0] != "run_dir"]
    why = "ganalyze-eval cannot change {keys}: they define the trained direction"
    cfg = with_overrides(saved_config(folder), compose_config(overrides), overrides, FREE_ON_EVAL, why)
    cfg.run_dir = folder
    return cfg


def new_eval_folder(run_dir: Path, out: str | None) -> Path:
    """eval.out if given (it must be empty or absent), else a new <run_dir>/eval-<date_time>."""
    if out is not None:
        path = Path(out)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(f"eval.out={out} already holds files; ganalyze-eval never overwrites an evaluation: "
                              "give a new folder, or leave eval.out unset for a new <run_dir>/eval-<date_time>.")
        return path
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    path, n = run_dir / f"eval-{stamp}", 1
    while path.exists():
        n += 1
        path = run_dir / f"eval-{stamp}-{n}"
    return path


def run_eval(cfg: DictConfig) -> Path:
    """Rebuild the run's generator and assessor, load its trained direction, evaluate into a new folder."""
    settings = to_settings(cfg)
    device = setup_torch(settings)
    run_dir = Path(settings.run_dir)
    out = new_eval_folder(run_dir, settings.eval.out)
    roles = build_roles(settings, device)
    roles.transformer = trained_transformer(run_dir, roles).to(device)
    check_sizes(settings, roles, device, training=False)
    class_ids(eval_for(settings, roles.generator).grid_classes, roles.generator)  # class names checked before any write
    with RunLock(run_dir, "ganalyze-eval"):
        logger = build_logger(settings.logger, run_dir, name=f"{run_dir.name}-eval", config=asdict(settings),
                              job_type="eval")
        try:
            evaluation_job(settings, roles, run_dir, out, logger)
        finally:
            logger.finish()
    return out


def run_dir_command(command: Callable[[DictConfig], Path], usage: str, argv: list[str] | None) -> None:
    """Print ``usage`` for no arguments or -h/--help; else run ``command`` on the run's config with the overrides."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage.strip())
        return
    with console_log():
        command(load_run_config(args))


def help_text() -> str:
    """ganalyze-eval --help: the usage above and the evaluation settings with their defaults."""
    defaults = OmegaConf.to_yaml({"eval": asdict(EvalSettings())}).rstrip()
    return f"{__doc__.strip()}\n\nSettings that may change (EvalSettings in ganalyze/evaluation.py documents them):\n{defaults}"


@reports_errors("ganalyze-eval")
def main(argv: list[str] | None = None) -> None:
    """Entry point of ganalyze-eval."""
    run_dir_command(run_eval, help_text(), argv)


if __name__ == "__main__":
    main()
