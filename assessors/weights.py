"""Safe loading of user-supplied state dicts into assessors: no code runs, keys are renamed and checked strictly.

Files written by ``torch.save`` are read with ``weights_only=True``; plain pickles of a dict of tensors (the
GANalyze release's ``memnet_state_dict.p``, ``aestheticsnet_state_dict.p``) through ``assessors.safe_pickle``.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from assessors.safe_pickle import RefusedPickle, load_plain_pickle
from ganalyze.errors import ConfigError, WeightsError


def rename_keys(state: Mapping[str, torch.Tensor], key_map: Mapping[str, str] | None) -> dict[str, torch.Tensor]:
    """Rename key prefixes (``{"old.prefix": "new.prefix"}``, whole dotted parts; ``""`` strips a prefix)."""
    if not key_map:
        return dict(state)
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new_key = key
        for old, new in sorted(key_map.items(), key=lambda item: -len(item[0])):  # longest prefix first
            if key == old or key.startswith(old + "."):
                rest = key[len(old):]
                new_key = new + rest if new else rest.lstrip(".")
                break
        if new_key in renamed:
            raise WeightsError(f"key_map {dict(key_map)} maps two keys of the state dict onto {new_key!r}.")
        renamed[new_key] = value
    return renamed


def load_safely(path: Path) -> Any:
    """The object in a ``torch.save`` file (zip or legacy, ``weights_only=True``) or a plain pickle of tensors."""
    if zipfile.is_zipfile(path):
        return torch.load(path, map_location="cpu", weights_only=True)
    with path.open("rb") as handle:
        found = load_plain_pickle(handle)
    if isinstance(found, int) and found == torch.serialization.MAGIC_NUMBER:  # a legacy torch.save file
        return torch.load(path, map_location="cpu", weights_only=True)
    return found


def read_state_dict(path: str | os.PathLike, what: str, expected_file: str) -> dict[str, torch.Tensor]:
    """Read a plain state dict of tensors without running code (see ``load_safely``); WeightsError on any problem.

    ``what`` names the model, ``expected_file`` says which file is expected and where users get it.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"{what}: no weights file at {path}. Expected {expected_file}")
    try:
        state = load_safely(path)
    except RefusedPickle as err:
        raise WeightsError(
            f"{what}: {path} was refused and nothing in it was run: {err}. ganalyze reads a plain pickle only as "
            "far as a dict of tensors needs (collections.OrderedDict, torch's tensor rebuild, storage bytes read "
            "with torch.load(weights_only=True)); anything else could run code when unpickled. Use the file as "
            "published, or a state dict saved with torch.save(model.state_dict(), path). Expected "
            f"{expected_file}"
        ) from err
    except Exception as err:  # torch raises several types for truncated, foreign or unsafe files
        raise WeightsError(
            f"{what}: {path} could not be read safely as a PyTorch state dict ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}). Expected {expected_file}"
        ) from err
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]  # a training checkpoint that wraps the state dict
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{what}: {path} must hold a plain state dict (name -> tensor). Expected {expected_file}")
    return dict(state)


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], what: str, source: str) -> None:
    """Raise WeightsError listing missing, unexpected and mis-shaped keys of ``state`` for ``model``."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
        for k in set(expected) & set(state)
        if expected[k].shape != state[k].shape
    )
    if missing or unexpected or misshaped:
        raise WeightsError(
            f"{what}: {source} does not match the architecture: missing keys {missing}, unexpected keys "
            f"{unexpected}, mis-shaped keys {misshaped}. If the file names its layers differently, pass "
            "key_map={'old.prefix': 'new.prefix'}."
        )


def build_with_state(
    build: Callable[[], nn.Module], state: Mapping[str, torch.Tensor], what: str, source: str
) -> nn.Module:
    """``build()`` the model without initialising it (meta device), check ``state`` strictly and assign it."""
    with torch.device("meta"):
        model = build()
    check_state_dict(model, state, what, source)
    expected = model.state_dict()
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True, assign=True)
    return model


def load_weights(
    build: Callable[[], nn.Module],
    path: str | os.PathLike,
    what: str,
    expected_file: str,
    key_map: Mapping[str, str] | None = None,
) -> nn.Module:
    """Read ``path`` safely, rename keys by ``key_map``, and build the model holding them (strict check)."""
    state = rename_keys(read_state_dict(path, what, expected_file), key_map)
    return build_with_state(build, state, what, str(path))


def load_pretrained(
    build: Callable[[], nn.Module],
    weights: str | os.PathLike | None,
    pretrained: bool,
    what: str,
    expected_file: str,
    key_map: Mapping[str, str] | None = None,
) -> nn.Module:
    """The model holding ``weights``; randomly initialised only with ``pretrained=False`` (for plumbing tests).

    No weights with ``pretrained=True`` is a WeightsError naming the expected file.
    """
    if pretrained and weights is None:
        raise WeightsError(f"{what} needs its weights and none were given (weights=null). Expected {expected_file}")
    if not pretrained and weights is not None:
        raise ConfigError(f"{what} got weights={weights} with pretrained=false; drop one of the two.")
    return build() if weights is None else load_weights(build, weights, what, expected_file, key_map)
