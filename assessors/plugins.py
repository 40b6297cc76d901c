"""Assessors from other installed packages: the ``ganalyze.assessors`` entry-point group and their Hydra configs.

The machinery is shared with generator plugins (``ganalyze.plugins``); these are its assessor-facing names.
``register_plugin_configs()``, called by the command-line apps before Hydra composes, stores the configs of
every role's plugins (assessors and generators).
"""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

from ganalyze import plugins
from ganalyze.plugins import register_plugin_configs

ENTRY_POINT_GROUP = plugins.ASSESSORS.entry_point_group
CONFIG_GROUP = plugins.ASSESSORS.config_group

__all__ = ["CONFIG_GROUP", "ENTRY_POINT_GROUP", "plugin_config", "plugin_entry_points", "register_plugin_configs"]


def plugin_entry_points() -> dict[str, EntryPoint]:
    """The entry points of the installed packages in the ``ganalyze.assessors`` group, by name (not imported)."""
    return plugins.plugin_entry_points(plugins.ASSESSORS)


def plugin_config(entry_point: EntryPoint) -> dict[str, Any]:
    """The assessor plugin's Hydra config: its ``<name>.yaml`` (if shipped) over ``{_target_, name}`` defaults."""
    return plugins.plugin_config(entry_point, plugins.ASSESSORS)
