"""Assessors from other installed packages: the ``ganalyze.assessors`` entry-point group and their Hydra configs.

A plugin package declares ``name = "module:ClassOrFactory"`` in that group and may ship ``name.yaml``
next to that module (in the same package). ``register_plugin_configs()``, called by the command-line
apps before Hydra composes, stores that YAML (or a minimal config) as the option ``assessor=name``.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ganalyze.errors import ConfigError

ENTRY_POINT_GROUP = "ganalyze.assessors"
CONFIG_GROUP = "assessor"


def plugin_entry_points() -> dict[str, EntryPoint]:
    """The entry points of the installed packages in the ``ganalyze.assessors`` group, by name (not imported)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def plugin_config(entry_point: EntryPoint) -> dict[str, Any]:
    """The plugin's Hydra config: its ``<name>.yaml`` (if shipped) over ``{_target_, name}`` defaults."""
    from omegaconf import OmegaConf

    config: dict[str, Any] = {"_target_": "assessors.create_assessor", "name": entry_point.name}
    resource = _shipped_yaml(entry_point)
    if resource is None:
        return config
    try:
        shipped = OmegaConf.to_container(OmegaConf.create(resource.read_text()))
    except Exception as err:  # OmegaConf raises YAML and its own errors
        raise ConfigError(f"assessor plugin {entry_point.name!r}: {resource} is not valid YAML ({err}).") from err
    if not isinstance(shipped, dict):
        raise ConfigError(f"assessor plugin {entry_point.name!r}: {resource} must hold a mapping of options, "
                          f"got {type(shipped).__name__}.")
    return {**config, **shipped}


def register_plugin_configs() -> list[str]:
    """Store every plugin's config in Hydra's ConfigStore as ``assessor/<name>``; return the names stored.

    A config file of the same name in the package's own ``conf/assessor`` wins (Hydra reads files first).
    """
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    found = plugin_entry_points()
    for name, entry_point in found.items():
        provider = entry_point.dist.name if entry_point.dist is not None else "assessor plugin"
        store.store(group=CONFIG_GROUP, name=name, node=plugin_config(entry_point), provider=provider)
    return sorted(found)


def _shipped_yaml(entry_point: EntryPoint) -> Any | None:
    """The ``<name>.yaml`` resource in the package of the entry point's module, or None."""
    module = entry_point.module
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as err:
        warnings.warn(f"assessor plugin {entry_point.name!r}: module {module!r} cannot be found ({err})")
        return None
    if spec is None:
        return None
    package = module if spec.submodule_search_locations is not None else module.rpartition(".")[0]
    if not package:  # a top-level single-file module has no package to ship a YAML in
        return None
    resource = importlib.resources.files(package) / f"{entry_point.name}.yaml"
    return resource if resource.is_file() else None
