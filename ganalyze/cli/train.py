"""ganalyze-train: train a direction, evaluate it on held-out seeds, draw its visual definition.

    ganalyze-train                                   # the shapes world, object-size assessor
    ganalyze-train generator=biggan_deep_128 generator.weights=/path assessor=memnet train.classes=[goldfish]
    ganalyze-train run_dir=<folder of a killed run> resume=true
"""

from __future__ import annotations

import sys
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
import torch
from omegaconf import DictConfig, OmegaConf

from assessors.plugins import register_plugin_configs
from ganalyze.build import (build_assessor, build_generator, build_logger, build_objective, build_transformer,
                            plain, relevant_config)
from ganalyze.cli.common import ROLE_GROUPS, check_group_choices, class_ids, eval_settings, run_evaluation, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.errors import ConfigError
from ganalyze.distributed import from_environment, shutdown
from ganalyze.fast_path import FastPath
from ganalyze.logger import NullLogger
from ganalyze.training import TrainSettings, resume_state, train
from ganalyze.visuals import plot_loss

TRANSFORMER_DIR = "transformer"


def job_folder(cfg: DictConfig) -> Path:
    """This job's run folder: Hydra's output folder (run_dir, or run_dir/<job number> in a multirun sweep)."""
    return Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else Path(cfg.run_dir)


def is_number(value: Any) -> bool:
    """True for an int or float (not a bool): what a numeric setting must be."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def packaged_settings() -> dict[str, Any]:
    """The settings of the packaged conf/config.yaml (without its defaults list and hydra section)."""
    settings = OmegaConf.to_container(OmegaConf.load(str(files("ganalyze.conf").joinpath("config.yaml"))))
    return {k: v for k, v in settings.items() if k not in ("defaults", "hydra")}


def check_known_keys(args: list[str]) -> None:
    """Fail with one paragraph on a ``key=value`` override of a setting that does not exist (e.g. train.stpes=5).

    Role groups (generator.*, assessor.*, ...) are left to Hydra: their keys depend on the chosen option.
    """
    settings = packaged_settings()
    for arg in args:
        key, sep, _ = arg.partition("=")
        path = key.split(".")
        if not sep or arg.startswith(("+", "~", "-")) or path[0] in ROLE_GROUPS + ("hydra",):
            continue
        node: Any = settings
        for depth, part in enumerate(path):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(path[:depth])
                known = ", ".join(node) if isinstance(node, dict) else "none (it is not a section)"
                raise ConfigError(f"unknown setting {key!r}: {where or 'the top level'} has {known}. "
                                  f"To add a new key on purpose, write +{arg}.")
            node = node[part]


def check_numbers(cfg: DictConfig, defaults: Any = None, prefix: str = "") -> None:
    """Fail with one paragraph when a setting whose packaged default is a number, a list of numbers or a bool is not one.

    Catches values such as seed=abc, train.alpha_range=[a,b] or resume=yes before code that would raise a traceback
    (or read any text as true).
    """
    for key, default in (packaged_settings() if defaults is None else defaults).items():
        if key not in cfg:
            continue
        name, value = f"{prefix}{key}", cfg[key]
        if isinstance(default, dict) and isinstance(value, DictConfig):
            check_numbers(value, default, f"{name}.")
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} must be true or false (the default is {name}={str(default).lower()}).")
        elif is_number(default) and not is_number(value):
            raise ConfigError(f"{name}={value!r} must be a number (the default is {name}={default}).")
        elif isinstance(default, list) and all(map(is_number, default)) and not (
                OmegaConf.is_list(value) and all(map(is_number, value))):
            raise ConfigError(f"{name}={plain(value)!r} must be a list of numbers (the default is {name}={default}).")


def run_training(cfg: DictConfig) -> Path:
    """The whole job: check settings, build the roles, train (or resume), save θ, evaluate; return the run folder."""
    check_numbers(cfg)
    device = setup_torch(cfg)
    parallel = from_environment(device)  # one process alone, or this process's rank under torchrun
    run_dir = Path(parallel.agree(str(job_folder(cfg))))
    cfg.run_dir = str(run_dir)
    train_node = plain(cfg.train)
    settings = TrainSettings(steps=train_node["steps"], batch_size=train_node["batch_size"], lr=train_node["lr"],
                             alpha_range=tuple(train_node["alpha_range"]), checkpoint_every=train_node["checkpoint_every"],
                             seed=cfg.seed, l2_penalty=train_node["l2_penalty"],
                             fast=FastPath.from_config(train_node["fast"]))
    eval_settings(cfg.eval)  # fail on bad eval values before any work
    config = relevant_config(cfg)
    checkpoint = resume_state(run_dir, config, bool(cfg.resume))
    print(f"Run folder: {run_dir}" + (f" (resuming at step {checkpoint['step']})" if checkpoint else ""))

    generator = build_generator(cfg.generator).to(device)
    assessor = build_assessor(cfg.assessor).to(device)
    objective = build_objective(cfg.objective, assessor).to(device)
    settings = replace(settings, classes=class_ids(train_node["classes"], generator))
    eval_settings(cfg.eval, generator)  # class names of the evaluation are checked before training too
    class_ids(cfg.eval.grid_classes, generator)
    torch.manual_seed(cfg.seed)  # θ's initial value depends on the seed only
    transformer = build_transformer(cfg.transformer, generator, int(getattr(objective, "alpha_dim", 1))).to(device)

    if parallel.is_main:  # under torchrun, rank 0 alone writes files and logs
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    logger = (build_logger(cfg.logger, run_dir, name=f"{cfg.run_name}/{run_dir.name}", config=plain(cfg))
              if parallel.is_main else NullLogger())
    try:
        state = train(generator, transformer, objective, settings, run_dir, config, logger, checkpoint, device, parallel)
        if parallel.is_main:
            transformer.save_pretrained(run_dir / TRANSFORMER_DIR)
            if state.losses:
                logger.log_images({"train/loss_curve": plot_loss(state.losses, run_dir / "train_loss.png")})
            if cfg.eval.enabled:
                run_evaluation(cfg, generator, transformer, assessor, run_dir, logger)
    finally:
        logger.finish()
        shutdown()
    print(f"Run folder: {run_dir.resolve()}")
    return run_dir


@hydra.main(version_base="1.3", config_path="pkg://ganalyze.conf", config_name="config")
@reports_errors("ganalyze-train")
def hydra_app(cfg: DictConfig) -> None:
    """The Hydra application: composes the config from the command line and runs the job."""
    run_training(cfg)


@reports_errors("ganalyze-train")
def main() -> None:
    """Entry point of ganalyze-train (every config value can be overridden as key=value)."""
    register_plugin_configs()  # assessors of installed plugin packages become assessor=<name> options
    check_group_choices(sys.argv[1:])
    check_known_keys(sys.argv[1:])
    hydra_app()


if __name__ == "__main__":
    main()
