"""ganalyze-steer-power: the steerability paper's Table 1 on N generated shapes data sets (Δμ vs σ with power).

    ganalyze-steer-power                                  # conf/steer_power.yaml (preset=full), runs/steer_power
    ganalyze-steer-power preset=quick out_dir=/tmp/power  # the same code on a tiny budget (seconds)
Rerunning the same command resumes: the generator, every walk and every measurement are cached in out_dir.
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf

from ganalyze.cli.errors import hydra_command
from ganalyze.checks import is_whole
from ganalyze.errors import ConfigError
from ganalyze.steer_power import run_power_analysis


@hydra_command("ganalyze-steer-power", "steer_power", "out_dir")
def main(cfg: DictConfig) -> None:
    """Entry point of ganalyze-steer-power (Hydra: every value can be overridden as key=value)."""
    if not is_whole(cfg.threads) or cfg.threads < 1:
        raise ConfigError(f"threads={cfg.threads} must be a whole number >= 1.")
    torch.set_num_threads(int(cfg.threads))
    run_power_analysis(OmegaConf.to_container(cfg, resolve=True))


if __name__ == "__main__":
    main()
