"""Settings schemas as dataclasses: every value checked for type, finiteness and range before any work.

A schema is a dataclass whose fields carry their rules (:func:`setting`: minimum, maximum, an example); nested
sections are nested dataclasses. :func:`from_config` builds one from a config mapping (a Hydra DictConfig or
a dict), so ``num_inputs=abc``, ``temperature=nan``, ``seed=1.5`` or ``flow.train.batch_size=0`` become one
paragraph naming the dotted key, the bad value and a right example, and a misspelt key is refused by name.
Cross-field rules go in the dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, Union

from ganalyze.checks import is_finite, is_number, is_whole
from ganalyze.errors import ConfigError

T = TypeVar("T")
MIN_FREE_BYTES = 16 * 1024  # an output folder with less free space is refused before any work (Hydra's records fit)


def setting(default: Any = dataclasses.MISSING, *, minimum: float | None = None, maximum: float | None = None,
            above: float | None = None, example: str | None = None, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its rules: ``minimum``/``maximum`` (inclusive), ``above`` (exclusive), an example value."""
    meta = {"minimum": minimum, "maximum": maximum, "above": above, "example": example}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def plain_value(node: Any) -> Any:
    """A Hydra/OmegaConf node as plain Python (dicts and lists), anything else unchanged."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    return OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else node


def from_config(cls: type[T], node: Any, prefix: str = "") -> T:
    """An instance of the dataclass ``cls`` from ``node``; a wrong type, range or key is a one-paragraph ConfigError."""
    node = plain_value(node)
    where = prefix.rstrip(".") or "the settings"
    if not isinstance(node, Mapping):
        raise ConfigError(f"{where} must be a section of key: value settings, got {node!r}; e.g. "
                          f"{prefix or ''}{next(iter(f.name for f in dataclasses.fields(cls)))}=...")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in node if k not in names]
    if unknown:
        raise ConfigError(f"unknown setting {prefix}{unknown[0]}; {where} has {', '.join(sorted(names))}.")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in node and
               f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where} lacks {prefix}{missing[0]}; e.g. {_example(_field(cls, missing[0]), prefix + missing[0])}.")
    hints = typing.get_type_hints(cls)
    values = {f.name: check_field(f, hints[f.name], node[f.name], prefix + f.name)
              for f in dataclasses.fields(cls) if f.name in node}
    return cls(**values)


def _field(cls: type, name: str) -> dataclasses.Field:
    """The dataclass field ``name`` of ``cls``."""
    return next(f for f in dataclasses.fields(cls) if f.name == name)


def _example(field: dataclasses.Field, name: str) -> str:
    """``name=<example>`` from the field's metadata or default."""
    example = field.metadata.get("example")
    if example is None and field.default is not dataclasses.MISSING and field.default is not None:
        example = field.default
    if isinstance(example, bool):
        example = str(example).lower()
    return f"{name}={example}" if example is not None else name


def check_field(field: dataclasses.Field, hint: Any, value: Any, name: str) -> Any:
    """``value`` converted to the field's type and checked against its rules."""
    value = convert(hint, value, name, _example(field, name))
    if is_number(value):
        check_range(value, name, field.metadata, _example(field, name))
    return value


def check_range(value: float, name: str, rules: Mapping[str, Any], example: str) -> None:
    """Refuse ``value`` outside the field's minimum / above / maximum."""
    low, above, high = rules.get("minimum"), rules.get("above"), rules.get("maximum")
    if (low is not None and value < low) or (above is not None and value <= above) or \
            (high is not None and value > high):
        parts = [f">= {low}" if low is not None else "", f"> {above}" if above is not None else "",
                 f"<= {high}" if high is not None else ""]
        raise ConfigError(f"{name}={value!r} is out of range: it must be {' and '.join(p for p in parts if p)}; "
                          f"e.g. {example}.")


def convert(hint: Any, value: Any, name: str, example: str) -> Any:
    """``value`` as type ``hint`` (int, float, bool, str, Optional[...], list[...], a nested dataclass, Any)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for option in inner:
            try:
                return convert(option, value, name, example)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if value is None:
        raise ConfigError(f"{name} is null but needs a value; e.g. {example}.")
    if dataclasses.is_dataclass(hint):
        return from_config(hint, value, name + ".")
    if origin is dict:
        if not isinstance(value, Mapping) or not value:
            raise ConfigError(f"{name}={value!r} must be a non-empty section of name: settings; e.g. {example}.")
        return {str(k): convert(args[1], v, f"{name}.{k}", example) for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}={value!r} must be a list; e.g. {example}.")
        item = args[0] if args else Any
        return [convert(item, v, f"{name}[{i}]", example) for i, v in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} must be true or false; e.g. {example}.")
        return value
    if hint is int:
        if not is_whole(value):
            raise ConfigError(f"{name}={value!r} must be a whole number; e.g. {example}.")
        return int(value)
    if hint is float:
        if not is_number(value):
            raise ConfigError(f"{name}={value!r} must be a number; e.g. {example}.")
        if not is_finite(value):
            raise ConfigError(f"{name}={value!r} must be a finite number; e.g. {example}.")
        return float(value)
    if hint is str:
        if isinstance(value, (dict, list)) or isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} must be a text value; e.g. {example}.")
        return str(value)
    raise TypeError(f"schema type {hint!r} of {name} is not supported")  # a schema bug, not user input


def output_folder(name: str, value: Any) -> Path:
    """A folder setting results go into: not empty, not an existing file, and writable (probed with a temp file)."""
    if value is None or not str(value).strip():
        raise ConfigError(f"{name} is empty; give the folder results go into, e.g. {name}=runs/mine.")
    path = Path(str(value))
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name}={value} is a file, not a folder; give a folder (it is created if missing).")
    probe_writable(name, path)
    return path


def output_file(name: str, value: Any, example: str) -> Path:
    """A file setting a result is written to: not empty, not an existing folder, its folder writable."""
    if value is None or not str(value).strip():
        raise ConfigError(f"{name} is empty; give a file name, e.g. {name} {example}.")
    path = Path(str(value))
    if path.is_dir():
        raise ConfigError(f"{name} {value} is a folder; give a file name, e.g. {name} {Path(value) / Path(example).name}.")
    probe_writable(name, path.parent)
    return path


def probe_writable(name: str, folder: Path) -> None:
    """Create ``folder`` if needed, write and remove a temporary file there and look at its free space, so a
    read-only, missing or full place is refused before any work rather than after it."""
    blocking = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ConfigError(f"{name}: {blocking} is a file, so {folder} cannot be a folder; choose another path.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ConfigError(f"{name}: cannot write into {folder} ({err.strerror or err}); choose a folder you can "
                          "write to.") from None
    stats = os.statvfs(folder)
    if stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
        raise ConfigError(f"{name}: the device holding {folder} is full ({stats.f_bavail * stats.f_frsize} bytes "
                          "free); free some space or choose another folder.")
