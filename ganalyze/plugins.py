"""Roles from other installed packages: entry-point groups (``ganalyze.assessors``, ``ganalyze.generators``) and
the Hydra configs their packages ship.

A plugin package declares ``name = "module:ClassOrFactory"`` in a role's group and may ship ``name.yaml`` next to
that module (in the same package). ``register_plugin_configs()``, called by the command-line apps before Hydra
composes, stores that YAML (or a minimal config) as the option ``<role>=name``. This module imports neither the
assessors nor the generators: a role is described by data (``PluginRole``).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable

from ganalyze.errors import ConfigError


@dataclass(frozen=True)
class PluginRole:
    """A role plugins can fill: its Hydra config group, entry-point group and the factory its configs target."""

    config_group: str
    entry_point_group: str
    create_target: str


ASSESSORS = PluginRole("assessor", "ganalyze.assessors", "assessors.create_assessor")
GENERATORS = PluginRole("generator", "ganalyze.generators", "ganalyze.generators.create_generator")
ROLES = (ASSESSORS, GENERATORS)


def plugin_entry_points(role: PluginRole) -> dict[str, EntryPoint]:
    """The entry points of the installed packages in the role's group, by name (not imported)."""
    return {ep.name: ep for ep in entry_points(group=role.entry_point_group)}


def load_entry_point(entry_point: EntryPoint, role: PluginRole) -> Callable[..., Any]:
    """Import a plugin's class or factory, naming the plugin when its import fails."""
    try:
        return entry_point.load()
    except Exception as err:
        raise ConfigError(
            f"the {role.config_group} plugin {entry_point.name!r} ({entry_point.value}, entry-point group "
            f"{role.entry_point_group!r}) could not be imported: {err!r}. Fix or reinstall the package that declares it."
        ) from err


def plugin_config(entry_point: EntryPoint, role: PluginRole) -> dict[str, Any]:
    """The plugin's Hydra config: its ``<name>.yaml`` (if shipped) over ``{_target_, name}`` defaults."""
    from omegaconf import OmegaConf

    config: dict[str, Any] = {"_target_": role.create_target, "name": entry_point.name}
    resource = _shipped_yaml(entry_point, role)
    if resource is None:
        return config
    label = f"{role.config_group} plugin {entry_point.name!r}"
    try:
        shipped = OmegaConf.to_container(OmegaConf.create(resource.read_text()))
    except Exception as err:  # OmegaConf raises YAML and its own errors
        raise ConfigError(f"{label}: {resource} is not valid YAML ({err}).") from err
    if not isinstance(shipped, dict):
        raise ConfigError(f"{label}: {resource} must hold a mapping of options, got {type(shipped).__name__}.")
    return {**config, **shipped}


def register_plugin_configs(roles: tuple[PluginRole, ...] = ROLES) -> list[str]:
    """Store every plugin's config in Hydra's ConfigStore as ``<group>/<name>``; return the names stored.

    A config file of the same name in the package's own ``conf/<group>`` wins (Hydra reads files first).
    """
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    stored = []
    for role in roles:
        for name, entry_point in plugin_entry_points(role).items():
            provider = entry_point.dist.name if entry_point.dist is not None else f"{role.config_group} plugin"
            store.store(group=role.config_group, name=name, node=plugin_config(entry_point, role), provider=provider)
            stored.append(name)
    return sorted(stored)


def _shipped_yaml(entry_point: EntryPoint, role: PluginRole) -> Any | None:
    """The ``<name>.yaml`` resource in the package of the entry point's module, or None."""
    module = entry_point.module
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as err:
        warnings.warn(f"{role.config_group} plugin {entry_point.name!r}: module {module!r} cannot be found ({err})")
        return None
    if spec is None:
        return None
    package = module if spec.submodule_search_locations is not None else module.rpartition(".")[0]
    if not package:  # a top-level single-file module has no package to ship a YAML in
        return None
    resource = importlib.resources.files(package) / f"{entry_point.name}.yaml"
    return resource if resource.is_file() else None
