"""Assessor registry: register by decorator, create by name or from a Hydra config, list the names.

Built-in assessors register themselves when ``assessors.builtin`` is imported. Installed packages
add theirs through the ``ganalyze.assessors`` entry-point group (``name = "module:ClassOrFactory"``);
those are loaded on first use, with no edit to this package (see ``assessors.plugins``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, TypeVar

from torch import nn

from ganalyze.errors import ConfigError, UnknownNameError

from assessors.base import Assessor
from assessors.plugins import ENTRY_POINT_GROUP, plugin_entry_points

_REGISTRY: dict[str, Callable[..., Assessor]] = {}

F = TypeVar("F", bound=Callable[..., Assessor])

# Keys of a Hydra config that instantiate() reads itself; ``name`` names the run, not an option.
_HYDRA_KEYS = ("_target_", "_convert_", "_recursive_", "_partial_", "_args_")
_SELF_TARGETS = ("assessors.create_assessor", "assessors.registry.create_assessor")


def register_assessor(name: str) -> Callable[[F], F]:
    """Decorator: register a class or factory under ``name`` (names are unique)."""

    def wrap(factory: F) -> F:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"assessor name {name!r} is already registered to {_REGISTRY[name]!r}")
        _REGISTRY[name] = factory
        return factory

    return wrap


def _known() -> dict[str, Any]:
    """Registered factories and plugin entry points by name; a registered name wins over a plugin's."""
    import assessors.builtin  # noqa: F401  (registers the built-in assessors)

    return {**plugin_entry_points(), **_REGISTRY}


def list_assessors() -> list[str]:
    """All known assessor names, built-in and from installed plugins, sorted."""
    return sorted(_known())


def create_assessor(name: str, **options: Any) -> Assessor:
    """Build the assessor registered as ``name`` with keyword options, frozen and in eval mode."""
    known = _known()
    if name not in known:
        raise UnknownNameError(
            f"unknown assessor {name!r}; known assessors: {', '.join(sorted(known))}. "
            f"Register one with @register_assessor, the {ENTRY_POINT_GROUP!r} entry-point group of an "
            "installed package, or an assessor config whose _target_ names its class."
        )
    factory = known[name]
    if name not in _REGISTRY:  # an entry point: import the plugin now, on first use
        factory = _REGISTRY[name] = _load_entry_point(factory)
    return freeze(_checked(factory(**options), name))


def assessor_from_config(cfg: Mapping[str, Any]) -> Assessor:
    """Build an assessor from a Hydra config, frozen: ``name`` plus options, or a ``_target_`` class/factory.

    ``_target_: assessors.create_assessor`` (the package's configs) or no ``_target_`` creates ``name``
    from the registry; any other ``_target_`` is instantiated with the options (``name`` stays the run's name).
    """
    options = _plain(cfg)
    target = options.get("_target_")
    if target is None or target in _SELF_TARGETS:
        if not isinstance(options.get("name"), str):
            raise ConfigError(f"an assessor config needs `name: <assessor name>` (one of {list_assessors()}), got {cfg}.")
        return create_assessor(**{k: v for k, v in options.items() if k not in _HYDRA_KEYS})
    from hydra.utils import instantiate

    options.pop("name", None)
    label = str(cfg.get("name", target))
    return freeze(_checked(instantiate(options, _convert_="all"), label))


def freeze(model: Assessor) -> Assessor:
    """Put a model in eval mode with no parameter requiring grad (gradients still flow to its input)."""
    model.eval()
    model.requires_grad_(False)
    return model


def _plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict of a Hydra/OmegaConf config (resolved) or of a mapping."""
    try:
        from omegaconf import DictConfig, OmegaConf
    except ImportError:  # pragma: no cover - hydra-core is a dependency
        return dict(cfg)
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def _load_entry_point(entry_point: Any) -> Callable[..., Assessor]:
    """Import a plugin's class or factory, naming the plugin when its import fails."""
    try:
        return entry_point.load()
    except Exception as err:
        raise ConfigError(
            f"the assessor plugin {entry_point.name!r} ({entry_point.value}, entry-point group "
            f"{ENTRY_POINT_GROUP!r}) could not be imported: {err!r}. Fix or reinstall the package that declares it."
        ) from err


def _checked(model: Any, name: str) -> Assessor:
    """Return ``model`` if it is a torch module (the protocol's carrier), else raise ConfigError."""
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"assessor {name!r} built a {type(model).__name__}, not a torch.nn.Module; an assessor is an "
            "nn.Module (subclass assessors.Assessor) whose forward maps images in [0, 1] to scores (N,)."
        )
    return model
