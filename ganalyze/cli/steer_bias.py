"""ganalyze-steer-bias: the data-bias analysis of steerability, end to end (generators, walks, Δμ vs σ).

    ganalyze-steer-bias                                   # conf/steer_bias.yaml, results in runs/steer_bias
    ganalyze-steer-bias out_dir=/tmp/bias generator.steps=300 walk.steps=100   # a quicker, rougher run
"""

from __future__ import annotations

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from ganalyze.cli.errors import reports_errors
from ganalyze.data_bias import run_bias_analysis
from ganalyze.errors import ConfigError


@hydra.main(version_base="1.3", config_path="pkg://ganalyze.conf", config_name="steer_bias")
@reports_errors("ganalyze-steer-bias")
def main(cfg: DictConfig) -> None:
    """Entry point of ganalyze-steer-bias (Hydra: every value can be overridden as key=value)."""
    if int(cfg.threads) < 1:
        raise ConfigError(f"threads={cfg.threads} must be a whole number >= 1.")
    torch.set_num_threads(int(cfg.threads))
    run_bias_analysis(OmegaConf.to_container(cfg, resolve=True))


if __name__ == "__main__":
    main()
