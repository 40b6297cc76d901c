"""ganalyze-train: train a direction, evaluate it on held-out seeds, draw its visual definition.

    ganalyze-train                                   # the shapes world, object-size assessor
    ganalyze-train generator=biggan_deep_128 generator.weights=/path assessor=memnet train.classes=[goldfish]
    ganalyze-train run_dir=<folder of a killed run> resume=true
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
import torch
from omegaconf import DictConfig, OmegaConf

from assessors.plugins import register_plugin_configs
from ganalyze.build import (build_assessor, build_generator, build_logger, build_objective, build_transformer,
                            plain, relevant_config)
from ganalyze.cli.common import check_group_choices, class_ids, eval_settings, run_evaluation, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.training import TrainSettings, resume_state, train
from ganalyze.visuals import plot_loss

TRANSFORMER_DIR = "transformer"


def job_folder(cfg: DictConfig) -> Path:
    """This job's run folder: Hydra's output folder (run_dir, or run_dir/<job number> in a multirun sweep)."""
    return Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else Path(cfg.run_dir)


def run_training(cfg: DictConfig) -> Path:
    """The whole job: check settings, build the roles, train (or resume), save θ, evaluate; return the run folder."""
    device = setup_torch(cfg)
    run_dir = job_folder(cfg)
    cfg.run_dir = str(run_dir)
    train_node = plain(cfg.train)
    settings = TrainSettings(steps=train_node["steps"], batch_size=train_node["batch_size"], lr=train_node["lr"],
                             alpha_range=tuple(train_node["alpha_range"]), checkpoint_every=train_node["checkpoint_every"],
                             seed=cfg.seed, l2_penalty=train_node["l2_penalty"])
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

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    logger = build_logger(cfg.logger, run_dir, name=f"{cfg.run_name}/{run_dir.name}", config=plain(cfg))
    try:
        state = train(generator, transformer, objective, settings, run_dir, config, logger, checkpoint, device)
        transformer.save_pretrained(run_dir / TRANSFORMER_DIR)
        if state.losses:
            logger.log_images({"train/loss_curve": plot_loss(state.losses, run_dir / "train_loss.png")})
        if cfg.eval.enabled:
            run_evaluation(cfg, generator, transformer, assessor, run_dir, logger)
    finally:
        logger.finish()
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
    hydra_app()


if __name__ == "__main__":
    main()
