"""Assessor registry: register by decorator, create by name or from a Hydra config, list the names.

Built-in assessors register themselves when ``assessors.builtin`` is imported. Installed packages
add theirs through the ``ganalyze.assessors`` entry-point group (``name = "module:ClassOrFactory"``);
those are loaded on first use, with no edit to this package (see ``assessors.plugins``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Callable, TypeVar

from torch import nn

from ganalyze import plugins
from ganalyze.errors import ConfigError
from ganalyze.registry import Registry
from ganalyze.typed_settings import plain_value

from assessors.base import Assessor

# Keys of a Hydra config that instantiate() reads itself; ``name`` names the run, not an option.
_HYDRA_KEYS = ("_target_", "_convert_", "_recursive_", "_partial_", "_args_")
_SELF_TARGETS = ("assessors.create_assessor", "assessors.registry.create_assessor")


def freeze(model: Assessor) -> Assessor:
    """Put a model in eval mode with no parameter requiring grad (gradients still flow to its input)."""
    model.eval()
    model.requires_grad_(False)
    return model


def _checked(model: Any, name: str) -> Assessor:
    """Return ``model`` if it is a torch module (the protocol's carrier), else raise ConfigError."""
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"assessor {name!r} built a {type(model).__name__}, not a torch.nn.Module; an assessor is an "
            "nn.Module (subclass assessors.Assessor) whose forward maps images in [0, 1] to scores (N,)."
        )
    return model


def _import_builtins() -> None:
    """Import the built-in assessor modules, whose decorators register them (on first use: they import this one)."""
    importlib.import_module("assessors.builtin")


ASSESSOR_REGISTRY: Registry[Assessor] = Registry(plugins.ASSESSORS, _import_builtins, _checked, freeze)
F = TypeVar("F", bound=Callable[..., Assessor])


def register_assessor(name: str) -> Callable[[F], F]:
    """Decorator: register a class or factory under ``name`` (names are unique)."""
    return ASSESSOR_REGISTRY.register(name)


def list_assessors() -> list[str]:
    """All known assessor names, built-in and from installed plugins, sorted."""
    return ASSESSOR_REGISTRY.names()


def create_assessor(name: str, **options: Any) -> Assessor:
    """Build the assessor registered as ``name`` with keyword options, frozen and in eval mode."""
    return ASSESSOR_REGISTRY.create(name, **options)


def assessor_from_config(cfg: Mapping[str, Any]) -> Assessor:
    """Build an assessor from a Hydra config, frozen: ``name`` plus options, or a ``_target_`` class/factory.

    ``_target_: assessors.create_assessor`` (the package's configs) or no ``_target_`` creates ``name``
    from the registry; any other ``_target_`` is instantiated with the options (``name`` stays the run's name).
    """
    options = dict(plain_value(cfg))
    target = options.get("_target_")
    if target is None or target in _SELF_TARGETS:
        if not isinstance(options.get("name"), str):
            raise ConfigError(f"an assessor config needs `name: <assessor name>` (one of {list_assessors()}), got {cfg}.")
        return create_assessor(**{k: v for k, v in options.items() if k not in _HYDRA_KEYS})
    from hydra.utils import instantiate

    options.pop("name", None)
    label = str(cfg.get("name", target))
    return freeze(_checked(instantiate(options, _convert_="all"), label))
