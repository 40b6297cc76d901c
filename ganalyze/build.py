"""Build the roles of a run (generator, assessor, objective, transformer, logger) from their Hydra configs.

Errors inside a constructor reach the user as the package's own one-paragraph errors, not as
Hydra's InstantiationException wrappers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate

from assessors.registry import assessor_from_config
from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator
from ganalyze.generators.registry import REGISTRY_TARGETS, check_generator, create_generator, freeze
from ganalyze.transformers.base import Transformer
from ganalyze.typed_settings import plain_value as plain  # the commands' name for it

TRAIN_KEYS_FREE_ON_RESUME = ("steps", "checkpoint_every")  # extending or re-spacing saves leaves θ's path unchanged


def _target_class(node: Mapping[str, Any], role: str) -> type:
    """The class a config's ``_target_`` names, or a ConfigError naming the bad target."""
    target = node.get("_target_")
    try:
        return get_class(str(target))
    except Exception as err:
        raise ConfigError(f"{role}._target_={target!r} does not name an importable class ({err}).") from err


def instantiate_role(node: Mapping[str, Any], role: str, **kwargs: Any) -> Any:
    """Build the object a role's config describes, passing ``kwargs`` (objects, run data) to it as they are.

    The package's own errors pass through; a config that does not fit its class becomes a ConfigError.
    """
    try:
        factory = instantiate(node, _partial_=True, _convert_="all")
    except InstantiationException as err:
        raise ConfigError(f"could not build the {role} from its config: {str(err).splitlines()[0]} "
                          f"{err.__cause__!r}") from err
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise ConfigError(f"the {role} config does not fit {node.get('_target_')}: {err}.") from err


def build_generator(node: Mapping[str, Any]) -> Generator:
    """The generator, frozen and in eval mode: a class named by ``_target_`` built with every option (``name``
    included), or, for ``_target_: ganalyze.generators.create_generator`` or none, the registered ``name``."""
    target = node.get("_target_")
    if target is None or target in REGISTRY_TARGETS:
        options = plain(node)
        if not isinstance(options.get("name"), str):
            raise ConfigError(f"a generator config needs a _target_ or `name: <generator name>`, got {options}.")
        return create_generator(**{k: v for k, v in options.items() if not k.startswith("_")})
    return freeze(check_generator(instantiate_role(node, "generator"), str(node.get("name", target))))


def build_assessor(node: Mapping[str, Any]) -> Any:
    """The assessor (by registry name or ``_target_``), frozen and in eval mode."""
    return assessor_from_config(node)


def build_objective(node: Mapping[str, Any], assessor: Any) -> Any:
    """The objective; objectives that score images (``uses_assessor``) get the run's assessor."""
    cls = _target_class(node, "objective")
    extra = {"assessor": assessor} if getattr(cls, "uses_assessor", False) else {}
    return instantiate_role(node, "objective", **extra)


def build_transformer(node: Mapping[str, Any], generator: Generator, alpha_dim: int) -> Transformer:
    """The transformer for the generator's latent size, with one slider per α dimension of the objective."""
    cls = _target_class(node, "transformer")
    extra = {"num_classes": generator.num_classes} if getattr(cls, "needs_classes", False) else {}
    return instantiate_role(node, "transformer", dim_z=generator.dim_z, alpha_dim=alpha_dim, **extra)


def build_logger(node: Mapping[str, Any], run_dir: str | Path, name: str, config: Mapping[str, Any],
                 job_type: str = "train") -> Any:
    """The experiment logger (wandb or none), writing under ``run_dir``."""
    return instantiate_role(node, "logger", run_dir=str(run_dir), name=name, run_config=dict(config), job_type=job_type)


def relevant_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run's config that θ depends on: a checkpoint only resumes under the same one."""
    train = {k: v for k, v in plain(cfg["train"]).items() if k not in TRAIN_KEYS_FREE_ON_RESUME}
    return {"seed": cfg["seed"], "train": train,
            **{role: plain(cfg[role]) for role in ("generator", "assessor", "transformer", "objective")}}
