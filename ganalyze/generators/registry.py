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

from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator
from ganalyze.plugins import GENERATORS
from ganalyze.registry import Registry

F = TypeVar("F", bound=Callable[..., Generator])
# The _target_ of configs that name a registered generator (plugin configs) rather than a class.
REGISTRY_TARGETS = (GENERATORS.create_target, "ganalyze.generators.registry.create_generator")
PROTOCOL = ("dim_z", "num_classes", "resolution", "sample_latents")


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


def freeze(generator: Generator) -> Generator:
    """Eval mode with no parameter requiring grad (gradients still flow to the latents)."""
    return generator.eval().requires_grad_(False)


GENERATOR_REGISTRY: Registry[Generator] = Registry(GENERATORS, _register_builtins, check_generator, freeze)


def register_generator(name: str) -> Callable[[F], F]:
    """Decorator: register a generator class or factory under ``name`` (names are unique)."""
    return GENERATOR_REGISTRY.register(name)


def list_generators() -> list[str]:
    """All known generator names, built-in and from installed plugins, sorted."""
    return GENERATOR_REGISTRY.names()


def create_generator(name: str, **options: Any) -> Generator:
    """Build the generator registered as ``name`` with keyword options, frozen and in eval mode."""
    return GENERATOR_REGISTRY.create(name, **options)
