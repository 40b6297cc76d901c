"""ganalyze-eval: evaluate the direction of a finished (or checkpointed) run again, into <run_dir>/eval.

    ganalyze-eval run_dir=runs/shapes_size/2026-01-01_12-00-00 [eval.num_seeds=500] [logger=none] [device=cuda]

Only evaluation settings may change (eval.*, logger, device, threads); the rest comes from the run's config.yaml.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ganalyze.build import build_assessor, build_generator, build_logger, build_objective, build_transformer, plain
from ganalyze.checkpoint import load_checkpoint
from ganalyze.cli.common import run_evaluation, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.cli.train import TRANSFORMER_DIR
from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator
from ganalyze.training import CHECKPOINT_FILE
from ganalyze.transformers import Transformer, load_transformer

USAGE = "usage: ganalyze-eval run_dir=<run folder> [eval.<key>=<value> ...] [logger=none|wandb] [device=...] [threads=N]"
OVERRIDABLE = ("eval.", "logger.", "device", "threads")


def logger_config(name: str) -> DictConfig:
    """The packaged logger config ``conf/logger/<name>.yaml``."""
    available = sorted(p.name[:-5] for p in files("ganalyze.conf").joinpath("logger").iterdir() if p.name.endswith(".yaml"))
    if name not in available:
        raise ConfigError(f"unknown logger {name!r}; known loggers: {', '.join(available)}.")
    return OmegaConf.create(files("ganalyze.conf").joinpath(f"logger/{name}.yaml").read_text())


def load_run_config(args: list[str]) -> DictConfig:
    """The run's saved config with the command line's evaluation overrides applied."""
    pairs = [a.split("=", 1) for a in args]
    if any(len(p) != 2 for p in pairs):
        raise ConfigError(f"arguments must be key=value, got {[a for a in args if '=' not in a]}. {USAGE}")
    options = dict(pairs)
    if "run_dir" not in options:
        raise ConfigError(f"ganalyze-eval needs run_dir=<the folder ganalyze-train printed>. {USAGE}")
    run_dir = Path(options.pop("run_dir"))
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"run_dir={run_dir} holds no config.yaml; give the folder that ganalyze-train printed.")
    cfg = OmegaConf.load(path)
    defaults = OmegaConf.create(files("ganalyze.conf").joinpath("config.yaml").read_text()).eval
    cfg.eval = OmegaConf.merge(defaults, cfg.eval)  # eval keys added since the run get their defaults
    if "logger" in options:
        cfg.logger = logger_config(options.pop("logger"))
    refused = [k for k in options if not k.startswith(OVERRIDABLE)]
    if refused:
        raise ConfigError(f"ganalyze-eval cannot change {', '.join(refused)}: they define the trained direction. "
                          f"Only eval.*, logger, device and threads may change. {USAGE}")
    cfg.merge_with(OmegaConf.from_dotlist([f"{k}={v}" for k, v in options.items()]))
    cfg.run_dir = str(run_dir)
    return cfg


def trained_transformer(cfg: DictConfig, generator: Generator, assessor: torch.nn.Module, run_dir: Path) -> Transformer:
    """The run's final transformer, or, for a run still training or killed, the one in its last checkpoint."""
    if (run_dir / TRANSFORMER_DIR).is_dir() or not (run_dir / CHECKPOINT_FILE).is_file():
        return load_transformer(run_dir / TRANSFORMER_DIR)
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_FILE)
    objective = build_objective(cfg.objective, assessor)
    transformer = build_transformer(cfg.transformer, generator, int(getattr(objective, "alpha_dim", 1)))
    transformer.load_state_dict(checkpoint["transformer"])
    print(f"{run_dir} has no final transformer yet: evaluating its checkpoint at step {checkpoint['step']}")
    return transformer.eval().requires_grad_(False)


def run_eval(cfg: DictConfig) -> Path:
    """Rebuild generator and assessor, load the trained transformer, and evaluate into run_dir/eval."""
    device = setup_torch(cfg)
    run_dir = Path(cfg.run_dir)
    generator = build_generator(cfg.generator).to(device)
    assessor = build_assessor(cfg.assessor).to(device)
    transformer = trained_transformer(cfg, generator, assessor, run_dir).to(device)
    logger = build_logger(cfg.logger, run_dir, name=f"{run_dir.name}-eval", config=plain(cfg), job_type="eval")
    try:
        run_evaluation(cfg, generator, transformer, assessor, run_dir, logger)
    finally:
        logger.finish()
    return run_dir


def run_dir_command(command: Callable[[DictConfig], Path], usage: str, argv: list[str] | None) -> None:
    """Print ``usage`` for no arguments or -h/--help; else run ``command`` on the run's config with the overrides."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage.strip())
        return
    command(load_run_config(args))


@reports_errors("ganalyze-eval")
def main(argv: list[str] | None = None) -> None:
    """Entry point of ganalyze-eval."""
    run_dir_command(run_eval, __doc__, argv)


if __name__ == "__main__":
    main()
