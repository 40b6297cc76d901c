"""What the command-line apps share: the package's log on the console, and evaluation settings from a run's config."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ganalyze.evaluation import EvalSettings
from ganalyze.generators.base import Generator
from ganalyze.jobs import class_ids, setup_torch
from ganalyze.runlog import PACKAGE_LOGGER
from ganalyze.settings import ROLE_GROUPS, check_group_choices, config_error, group_options

__all__ = ["ROLE_GROUPS", "arguments", "check_group_choices", "class_ids", "console_log", "eval_settings",
           "group_options", "setup_torch"]


def arguments(argv: list[str] | None, doc: str) -> list[str] | None:
    """A command's arguments (``argv``, else the command line's), or None once ``doc`` is printed for none, -h or
    --help (the key=value commands that take no argparse)."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(doc.strip())
        return None
    return args


@contextlib.contextmanager
def console_log() -> Iterator[None]:
    """While a command runs, the package's INFO records (run folder, checkpoints, metrics) are printed to stdout."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def eval_settings(node: Mapping[str, Any], generator: Generator | None = None) -> EvalSettings:
    """EvalSettings from an ``eval`` config node (checked; classes resolved once the generator is known)."""
    try:
        settings = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(EvalSettings), node))
    except OmegaConfBaseException as err:  # OmegaConf's type errors, as one paragraph
        raise config_error(err) from err
    if generator is not None:
        settings.classes = class_ids(settings.classes, generator)
    return settings
