"""Generator registry: register by decorator, create by name, list the names (configs: ganalyze.build).

The built-in generators are the package's configs in ``conf/generator`` (shapes, BigGAN-deep 128/256/512,
tiny_biggan), registered by name. Installed packages add theirs through the ``ganalyze.generators``
entry-point group (``name = "module:ClassOrFactory"``, optionally with ``name.yaml`` beside it), loaded on
first use with no edit to this package; ``ganalyze-train generator=<name>`` finds them the same way.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any, Callable, TypeVar

from omegaconf import DictConfig, OmegaConf
from torch import nn

from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.generators.base import Generator
from ganalyze.plugins import GENERATORS, load_entry_point, plugin_entry_points

F = TypeVar("F", bound=Callable[..., Generator])

_REGISTRY: dict[str, Callable[..., Generator]] = {}
# The _target_ of configs that name a registered generator (plugin configs) rather than a class.
REGISTRY_TARGETS = (GENERATORS.create_target, "ganalyze.generators.registry.create_generator")
PROTOCOL = ("dim_z", "num_classes", "resolution", "sample_latents")


def register_generator(name: str) -> Callable[[F], F]:
    """Decorator: register a generator class or factory under ``name`` (names are unique)."""

    def wrap(factory: F) -> F:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"generator name {name!r} is already registered to {_REGISTRY[name]!r}")
        _REGISTRY[name] = factory
        return factory

    return wrap


def packaged_config(name: str) -> DictConfig:
    """The package's own ``conf/generator/<name>.yaml``."""
    return OmegaConf.load(files("ganalyze.conf").joinpath("generator", f"{name}.yaml"))


def _from_packaged_config(name: str, **options: Any) -> Generator:
    """Build the built-in generator ``name`` from its packaged config with ``options`` merged over it."""
    from ganalyze.build import build_generator  # build imports this registry

    return build_generator(OmegaConf.merge(packaged_config(name), options))


@functools.cache
def _register_builtins() -> None:
    """Register every packaged generator config under its file name, once, on first use (not at import: the
    config package registers the settings schema, which imports the evaluation, which imports the generators)."""
    for resource in files("ganalyze.conf").joinpath("generator").iterdir():
        if resource.name.endswith(".yaml"):
            name = resource.name.removesuffix(".yaml")
            register_generator(name)(functools.partial(_from_packaged_config, name))


def _known() -> dict[str, Any]:
    """Registered factories and plugin entry points by name; a registered name wins over a plugin's."""
    _register_builtins()
    return {**plugin_entry_points(GENERATORS), **_REGISTRY}


def list_generators() -> list[str]:
    """All known generator names, built-in and from installed plugins, sorted."""
    return sorted(_known())


def create_generator(name: str, **options: Any) -> Generator:
    """Build the generator registered as ``name`` with keyword options, frozen and in eval mode."""
    known = _known()
    if name not in known:
        raise UnknownNameError(
            f"unknown generator {name!r}; known generators: {', '.join(sorted(known))}. Register one with "
            f"@register_generator, the {GENERATORS.entry_point_group!r} entry-point group of an installed package, "
            "or a generator config whose _target_ names its class."
        )
    factory = known[name]
    if name not in _REGISTRY:  # an entry point: import the plugin now, on first use
        factory = _REGISTRY[name] = load_entry_point(factory, GENERATORS)
    return freeze(check_generator(factory(**options), name))


def freeze(generator: Generator) -> Generator:
    """Eval mode with no parameter requiring grad (gradients still flow to the latents)."""
    return generator.eval().requires_grad_(False)


def check_generator(generator: Any, name: str) -> Generator:
    """Return ``generator`` if it is a torch module with the Generator protocol's attributes, else ConfigError."""
    missing = [attr for attr in PROTOCOL if not hasattr(generator, attr)]
    if not isinstance(generator, nn.Module) or missing:
        raise ConfigError(
            f"generator {name!r} built a {type(generator).__name__} lacking {missing or 'nn.Module'}; a generator is "
            "an nn.Module (subclass ganalyze.generators.Generator) with dim_z, num_classes, resolution, "
            "sample_latents, and forward(z, y) -> images in [0, 1]."
        )
    return generator
