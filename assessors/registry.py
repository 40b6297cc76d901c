"""Assessor registry: register by decorator, create by name, list names; plugins via entry points.

Third-party packages expose assessors in the ``ganalyze.assessors`` entry-point group
(``name = "module:factory"``); they are found on the first lookup, with no edit to this package.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable, TypeVar

from ganalyze.errors import UnknownNameError

from assessors.base import Assessor

ENTRY_POINT_GROUP = "ganalyze.assessors"

_REGISTRY: dict[str, Callable[..., Assessor]] = {}
_entry_points_loaded = False

F = TypeVar("F", bound=Callable[..., Assessor])


def register_assessor(name: str) -> Callable[[F], F]:
    """Decorator: register a class or factory under ``name`` (names are unique)."""

    def wrap(factory: F) -> F:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"assessor name {name!r} is already registered to {_REGISTRY[name]!r}")
        _REGISTRY[name] = factory
        return factory

    return wrap


def _load_entry_points() -> None:
    """Register the assessors that installed packages declare in the entry-point group (once)."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load()


def list_assessors() -> list[str]:
    """All known assessor names, built-in and from installed plugins, sorted."""
    import assessors.builtin  # noqa: F401  (registers the built-in assessors)

    _load_entry_points()
    return sorted(_REGISTRY)


def create_assessor(name: str, **kwargs) -> Assessor:
    """Build the assessor registered as ``name`` with keyword options, frozen and in eval mode."""
    known = list_assessors()
    if name not in _REGISTRY:
        raise UnknownNameError(
            f"unknown assessor {name!r}; known assessors: {', '.join(known)}. "
            f"Register one with @register_assessor, the {ENTRY_POINT_GROUP!r} entry-point group, "
            "or an assessor config with a _target_."
        )
    return freeze(_REGISTRY[name](**kwargs))


def freeze(model: Assessor) -> Assessor:
    """Put a model in eval mode with no parameter requiring grad (gradients still flow to its input)."""
    model.eval()
    model.requires_grad_(False)
    return model
