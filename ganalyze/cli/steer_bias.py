"""ganalyze-steer-bias: the data-bias analysis of steerability, end to end (generators, walks, Δμ vs σ).

    ganalyze-steer-bias                                   # conf/steer_bias.yaml, results in runs/steer_bias
    ganalyze-steer-bias out_dir=/tmp/bias generator.steps=300 walk.steps=100   # a quicker, rougher run
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import torch
from omegaconf import DictConfig

from ganalyze.cli.errors import hydra_command
from ganalyze.data_bias import factor_specs, run_bias_analysis
from ganalyze.errors import ConfigError
from ganalyze.memory_budget import check_bytes, check_fits
from ganalyze.transformers import TRANSFORMERS
from ganalyze.typed_settings import from_config, output_folder, setting

SEED_BYTES = 4 * 8  # per held-out seed at least its seed and its three measurements (at -α*, 0, +α*)
TRAINING_COPIES = 4  # a training batch holds its images, their gradients and at least two activations as large


@dataclass
class GeneratorSettings:
    steps: int = setting(6000, minimum=1)
    batch_size: int = setting(32, minimum=1)
    width: int = setting(16, minimum=1)
    resolution: int = setting(16, minimum=8, maximum=512)
    flow_layers: int = setting(0, minimum=0)
    fit_samples: int = setting(12000, minimum=1)

    def __post_init__(self) -> None:
        if self.resolution & (self.resolution - 1):
            raise ConfigError(f"generator.resolution={self.resolution} must be a power of two >= 8; "
                              "e.g. generator.resolution=16.")


@dataclass
class WalkSettings:
    transformer: str = setting("linear", example="linear")
    steps: int = setting(300, minimum=1)
    batch_size: int = setting(32, minimum=1)
    lr: float = setting(0.01, above=0.0, maximum=10.0)

    def __post_init__(self) -> None:
        if self.transformer not in TRANSFORMERS:
            raise ConfigError(f"walk.transformer={self.transformer!r} is not a transformer kind; known: "
                              f"{', '.join(sorted(TRANSFORMERS))}.")


@dataclass
class EvalSettings:
    num_seeds: int = setting(500, minimum=2)
    batch_size: int = setting(250, minimum=1)


@dataclass
class FactorSettings:
    edit: str = setting(example="zoom")
    alpha_star: float = setting(above=0.0, example="0.5")
    datasets: list[str] = setting(example="[broad,size_mid,size_narrow]")
    lr: Optional[float] = setting(None, above=0.0, maximum=10.0, example="0.001")


@dataclass
class SteerBiasSettings:
    """ganalyze-steer-bias (conf/steer_bias.yaml)."""

    seed: int = setting(0, minimum=0)
    threads: int = setting(1, minimum=1, maximum=1024)
    out_dir: str = setting("runs/steer_bias")
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    walk: WalkSettings = field(default_factory=WalkSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    factors: dict[str, FactorSettings] = setting(default_factory=dict, example="{size: {edit: zoom, ...}}")


def check_sizes(settings: SteerBiasSettings) -> None:
    """Refuse sizes that cannot fit in memory, before the generator trains."""
    gen = settings.generator
    check_fits(gen.fit_samples, gen.resolution, f"generator.fit_samples={gen.fit_samples}",
               hint="lower it, e.g. generator.fit_samples=12000.")
    for name, batch in (("generator.batch_size", gen.batch_size), ("walk.batch_size", settings.walk.batch_size),
                        ("eval.batch_size", settings.eval.batch_size)):
        check_fits(batch, gen.resolution, f"{name}={batch}", factor=TRAINING_COPIES, hint=f"lower it, e.g. {name}=32.")
    check_bytes(settings.eval.num_seeds * SEED_BYTES, f"eval.num_seeds={settings.eval.num_seeds}",
                "lower it, e.g. eval.num_seeds=500.")


@hydra_command("ganalyze-steer-bias", "steer_bias", "out_dir")
def main(cfg: DictConfig) -> None:
    """Entry point of ganalyze-steer-bias (Hydra: every value can be overridden as key=value)."""
    settings = from_config(SteerBiasSettings, {k: v for k, v in cfg.items() if k != "hydra"})
    plain: dict[str, Any] = asdict(settings)
    factor_specs(plain["factors"], settings.walk.lr)  # known edits and data sets, at least 3 of them
    check_sizes(settings)
    output_folder("out_dir", settings.out_dir)
    torch.set_num_threads(settings.threads)
    plain["factors"] = {name: {k: v for k, v in spec.items() if v is not None} for name, spec in plain["factors"].items()}
    run_bias_analysis(plain)


if __name__ == "__main__":
    main()
