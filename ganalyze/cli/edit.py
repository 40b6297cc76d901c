"""ganalyze-edit: edit real images with a trained direction: invert each into the run's generator, walk the direction.

    ganalyze-edit run_dir=runs/shapes_size/2026-01-01_12-00-00 images=my_shapes/ alphas=[-0.02,0,0.02]
    ganalyze-edit run_dir=RUN images=[a.png,b.png] [alphas=[...]] [classes=[3] or [star]] [out=FOLDER]
                  [inverter=default|best_of_top_k|optimise_only] [inverter.steps=200 ...] [device=cpu] [threads=1]

alphas defaults to five values over the run's trained range; α = 0 (the reconstruction) is always added.
Writes <out>/strips/*.png (real | reconstruction | edits), edits.json and edits.csv; out defaults to <run_dir>/edits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose, initialize_config_module
from omegaconf import DictConfig, OmegaConf

from ganalyze.api import load_run
from ganalyze.build import instantiate_role, plain
from ganalyze.cli.common import arguments, group_options, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.errors import ConfigError
from ganalyze.generators.classes import resolve_classes
from ganalyze.inversion.classes import class_names_of
from ganalyze.inversion.edit import edit_images
from ganalyze.inversion.results import save_strips, save_tables

USAGE = ("usage: ganalyze-edit run_dir=<run folder> images=<file, folder or [files]> [alphas=[...]] [classes=[...]] "
         "[out=<folder>] [inverter=<option>] [inverter.<key>=<value> ...] [device=cpu] [threads=1]")
KEYS = ("run_dir", "images", "alphas", "classes", "out", "inverter", "device", "threads")


def parse_args(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """key=value arguments -> (settings, inverter overrides); unknown keys get one paragraph."""
    if any("=" not in a for a in args):
        raise ConfigError(f"arguments must be key=value, got {[a for a in args if '=' not in a]}. {USAGE}")
    inverter_overrides = [a for a in args if a.startswith("inverter.")]
    pairs = [a for a in args if not a.startswith("inverter.")]
    unknown = [a.split("=", 1)[0] for a in pairs if a.split("=", 1)[0] not in KEYS]
    if unknown:
        raise ConfigError(f"ganalyze-edit has no setting {unknown[0]!r}; settings: {', '.join(KEYS)}, inverter.<key>. {USAGE}")
    options = plain(OmegaConf.from_dotlist(pairs))
    for key in ("run_dir", "images"):
        if key not in options:
            raise ConfigError(f"ganalyze-edit needs {key}=... . {USAGE}")
    return {"device": "cpu", "threads": 1, "inverter": "default", **options}, inverter_overrides


def inverter_config(name: str, overrides: list[str]) -> DictConfig:
    """The inverter's config: conf/inverter/<name>.yaml with the command line's inverter.* overrides."""
    options = group_options("inverter")
    if name not in options:
        raise ConfigError(f"unknown inverter {name!r}; known inverters: {', '.join(options)}.")
    with initialize_config_module(config_module="ganalyze.conf", version_base=None):
        try:
            return compose(overrides=[f"+inverter={name}", *overrides]).inverter
        except Exception as err:  # Hydra's override errors name the bad key
            raise ConfigError(f"bad inverter setting in {overrides}: {str(err).splitlines()[0]}") from err


def run_edit(settings: dict[str, Any], inverter_overrides: list[str]) -> Path:
    """Load the run, read and invert the images, walk them, and write strips, JSON and CSV; return the folder."""
    device = setup_torch(settings)
    run_dir = Path(settings["run_dir"])
    inverter_cfg = inverter_config(str(settings["inverter"]), inverter_overrides)
    inverter = instantiate_role(inverter_cfg, "inverter")
    run = load_run(run_dir, device=str(device))
    generator, transformer, assessor = run.generator, run.transformer, run.assessor
    trained = tuple(float(a) for a in run.config.train.alpha_range)
    alphas = settings.get("alphas", np.linspace(*trained, 5).tolist())
    if not isinstance(alphas, list):
        raise ConfigError(f"alphas={alphas!r} must be a list, e.g. alphas=[-0.02,0,0.02].")
    names = class_names_of(generator)
    classes = resolve_classes(settings.get("classes"), generator.num_classes, names)
    result = edit_images(generator, transformer, assessor, settings["images"], alphas, inverter=inverter, classes=classes)
    out = Path(settings.get("out", run_dir / "edits"))
    generator_name = str(run.config.generator.get("name", type(generator).__name__))
    save_strips(result, out, generator_name, str(run.config.assessor.get("name", "trained")), names, trained)
    record = {"run_dir": str(run_dir), "images": settings["images"], "inverter": plain(inverter_cfg),
              "trained_alpha_range": list(trained)}
    save_tables(result, out, record)
    for row, name in zip(result.report, result.names):
        print(f"{name}: class {names[row['class']] if names else row['class']}, PSNR {row['psnr']:.1f} dB" +
              (f", size error {row['size_error']:.4f}, centroid error {row['centroid_error_px']:.2f} px, "
               f"hue error {row['hue_error_deg']:.1f}°" if "size_error" in row else ""))
    print(f"inversion: {result.inversion.seconds_per_image:.2f} s per image (CPU {result.inversion.cpu_seconds_per_image:.2f} s); "
          f"strips, edits.json and edits.csv in {out}")
    return out


@reports_errors("ganalyze-edit")
def main(argv: list[str] | None = None) -> None:
    """Entry point of ganalyze-edit."""
    args = arguments(argv, __doc__)
    if args is None:
        return
    run_edit(*parse_args(args))


if __name__ == "__main__":
    main()
