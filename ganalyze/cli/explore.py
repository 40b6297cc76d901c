"""ganalyze-explore: build the visual-definition explorer, a static site that opens from file:// anywhere.

    ganalyze-explore RUN_DIR [RUN_DIR ...] out=SITE [seeds=8] [classes=[goldfish,1]] [logger=none|wandb]
                     [device=cpu] [threads=1] [batch_size=256]

Runs on the same generator are shown on the same held-out seeds, one block per run; open SITE/index.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ganalyze.build import build_logger
from ganalyze.cli.common import arguments, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.errors import ConfigError
from ganalyze.explorer import build_site
from ganalyze.settings import group_config

USAGE = ("usage: ganalyze-explore RUN_DIR [RUN_DIR ...] out=SITE [seeds=8] [classes=[...]] [logger=none|wandb] "
         "[device=cpu] [threads=1] [batch_size=256]")
OPTIONS = {"out": None, "seeds": 8, "classes": None, "logger": "none", "device": "cpu", "threads": 1, "batch_size": 256}


def parse(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Run folders (arguments without '=') and the options (key=value, values read as YAML)."""
    folders, options = [], dict(OPTIONS)
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            folders.append(arg)
            continue
        if key not in OPTIONS:
            raise ConfigError(f"unknown option {key!r}; options: {', '.join(OPTIONS)}. {USAGE}")
        try:
            options[key] = yaml.safe_load(value) if key != "out" else value
        except yaml.YAMLError as err:
            raise ConfigError(f"{key}={value!r} is not a valid value ({str(err).splitlines()[0]}). {USAGE}") from err
    if not options["out"]:
        raise ConfigError(f"ganalyze-explore needs out=<folder for the site>. {USAGE}")
    if not folders:
        raise ConfigError(f"ganalyze-explore needs at least one run folder (the folder ganalyze-train printed). {USAGE}")
    if options["classes"] is not None and not isinstance(options["classes"], (list, int, str)):
        raise ConfigError(f"classes={options['classes']!r} must be a list of class ids or names, e.g. classes=[goldfish,1].")
    return folders, options


def explore(args: list[str]) -> Path:
    """Build the site the command line asks for and return its index.html."""
    folders, options = parse(args)
    device = setup_torch(options)
    classes = options["classes"]
    logger = None
    if options["logger"] != "none":
        out = Path(options["out"])
        logger = build_logger(group_config("logger", str(options["logger"])), out, name=f"explorer-{out.name}",
                              config={"runs": folders, **options}, job_type="explore")
    try:
        return build_site(folders, options["out"], seeds=options["seeds"],
                          classes=[classes] if isinstance(classes, (int, str)) else classes, device=device,
                          batch_size=options["batch_size"], logger=logger)
    finally:
        if logger is not None:
            logger.finish()


@reports_errors("ganalyze-explore")
def main(argv: list[str] | None = None) -> None:
    """Entry point of ganalyze-explore."""
    args = arguments(argv, __doc__)
    if args is None:
        return
    index = explore(args)
    print(f"Explorer written to {index.parent.resolve()}; open file://{index.resolve()}")


if __name__ == "__main__":
    main()
