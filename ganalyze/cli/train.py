"""ganalyze-train: train a direction, evaluate it on held-out seeds, draw its visual definition.

    ganalyze-train                                   # the shapes world, object-size assessor
    ganalyze-train train.classes=[circle] train.steps=600 logger=none
    ganalyze-train generator=biggan_deep_128 generator.weights=/path assessor=memnet train.classes=[goldfish]
    ganalyze-train run_dir=<folder of a killed run> resume=true      # continues with the run's own settings

A thin layer over ganalyze.train: the same settings give the same run from Python. Multirun sweeps (-m), Hydra's
own flags (--cfg, --hydra-help) and hydra.* settings go through Hydra's application instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

from ganalyze.cli.common import console_log
from ganalyze.cli.errors import reports_errors
from ganalyze.jobs import TRANSFORMER_DIR, train_job
from ganalyze.settings import check_group_choices, compose_config, to_settings

__all__ = ["TRANSFORMER_DIR", "main", "run_training"]


def run_training(cfg: DictConfig) -> Path:
    """The whole job for a composed config (typed once here); in a Hydra app, into Hydra's job folder."""
    settings = to_settings(cfg)
    if HydraConfig.initialized():  # run_dir, or run_dir/<job number> in a multirun sweep
        settings.run_dir = HydraConfig.get().runtime.output_dir
    folder, _ = train_job(settings)
    return folder


@hydra.main(version_base="1.3", config_path="pkg://ganalyze.conf", config_name="config")
@reports_errors("ganalyze-train")
def hydra_app(cfg: DictConfig) -> None:
    """Hydra's application, for sweeps and Hydra's own flags: composes the config and runs each job (Hydra's job
    logging prints the package's log and writes it to the job folder too)."""
    print(f"Run folder: {run_training(cfg).resolve()}")


def check_sweep(args: list[str]) -> None:
    """Check every value of a multirun sweep before Hydra starts any job: each one is composed and typed with the
    first value of the other sweeps (one paragraph on the first bad one, and no job folder made)."""
    settings = [a for a in args if "=" in a and not a.startswith("-") and not a.lstrip("+~").startswith("hydra")]
    parsed = OverridesParser.create().parse_overrides(settings)
    choices = [[f"{o.get_key_element()}={v}" for v in o.sweep_string_iterator()] if o.is_sweep_override()
               else [f"{o.get_key_element()}={o.get_value_element_as_str()}" if not o.is_delete() else o.input_line]
               for o in parsed]
    for i, values in enumerate(choices):
        for value in values:
            to_settings(compose_config([c[0] for c in choices[:i]] + [value] + [c[0] for c in choices[i + 1:]]))


def help_text() -> str:
    """ganalyze-train --help: examples, the options of each role, and every setting with its default."""
    from omegaconf import OmegaConf

    from ganalyze.settings import ROLE_GROUPS, RunSettings, group_options

    schema = OmegaConf.to_container(OmegaConf.structured(RunSettings), resolve=False)
    settings = {k: v for k, v in schema.items() if k not in ROLE_GROUPS}
    roles = "\n".join(f"  {group}: {', '.join(group_options(group))}" for group in ROLE_GROUPS)
    return (f"{__doc__.strip()}\n\nRoles (group=option; each option's own keys as group.key=value):\n{roles}\n\n"
            f"Settings (key=value; the dataclasses of ganalyze/settings.py document them):\n{OmegaConf.to_yaml(settings).rstrip()}\n\n"
            "Hydra's own flags: --hydra-help; the composed config: --cfg job.")


def needs_hydra_app(args: list[str]) -> bool:
    """Whether the command line uses what only Hydra's application offers (flags, sweeps, hydra.* settings)."""
    return any(a.startswith("-") or a.lstrip("+~").startswith("hydra") for a in args)


@reports_errors("ganalyze-train")
def main() -> None:
    """Entry point of ganalyze-train (every setting can be given as key=value)."""
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(help_text())
        return
    if needs_hydra_app(args):
        from assessors.plugins import register_plugin_configs

        register_plugin_configs()  # assessors of installed plugin packages become assessor=<name> options
        check_group_choices(args)
        searchpath = any(a.lstrip("+").startswith("hydra.searchpath") for a in args)  # options may live anywhere
        if {"-m", "--multirun"} & set(args) and not searchpath:
            check_sweep(args)
        hydra_app()
        return
    import ganalyze

    with console_log():
        run = ganalyze.train(args)
    print(f"Run folder: {run.folder.resolve()}")


if __name__ == "__main__":
    main()
