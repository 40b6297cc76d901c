"""Safe save/load of trained artefacts: one folder with ``config.json`` and ``model.pt`` (a plain state dict).

Shared by every ``save_pretrained`` / ``from_pretrained`` pair of the package, so that all of them load
with ``weights_only=True`` (a checkpoint cannot run code), check keys strictly and fail with a WeightsError
that names the path and what was expected (the state-dict checks are those of ``assessors.weights``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from assessors.weights import check_state_dict, read_state_dict
from ganalyze.errors import WeightsError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.pt"


def save_pretrained(model: nn.Module, config: dict[str, Any], folder: str | os.PathLike) -> Path:
    """Write ``config`` as JSON and the model's state dict to ``folder`` (created if needed); return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, folder / WEIGHTS_NAME)
    return folder


def load_config(folder: str | os.PathLike, what: str) -> dict[str, Any]:
    """Read ``folder/config.json`` as a dict, or raise WeightsError saying which ``what`` was expected there."""
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise WeightsError(
            f"{what}: no {CONFIG_NAME} at {path}. Expected a folder written by save_pretrained, "
            f"holding {CONFIG_NAME} and {WEIGHTS_NAME}."
        )
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WeightsError(f"{what}: {path} is not readable JSON ({err}); re-create it with save_pretrained.") from err
    if not isinstance(config, dict):
        raise WeightsError(f"{what}: {path} must hold a JSON object of constructor arguments, got {type(config).__name__}.")
    return config


def build_from_config(cls: type, config: dict[str, Any], folder: str | os.PathLike) -> Any:
    """Construct ``cls(**config)``, turning a config that does not fit the constructor into a WeightsError."""
    try:
        return cls(**config)
    except (TypeError, ValueError) as err:
        raise WeightsError(
            f"{cls.__name__}: the config in {Path(folder) / CONFIG_NAME} does not fit the constructor ({err})."
        ) from err


def load_state_dict_strict(model: nn.Module, folder: str | os.PathLike) -> nn.Module:
    """Load ``folder/model.pt`` safely into ``model`` with a strict key and shape check; return it in eval mode."""
    path = Path(folder) / WEIGHTS_NAME
    what = type(model).__name__
    state = read_state_dict(path, what, f"a state dict written by {what}.save_pretrained")
    check_state_dict(model, state, what, str(path))
    model.load_state_dict(state, strict=True)
    return model.eval()


def load_pretrained(cls: type, folder: str | os.PathLike) -> Any:
    """Build ``cls`` from ``folder/config.json``, load ``folder/model.pt`` strictly; return it frozen and in eval mode."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{cls.__name__}: {folder} is not a folder; expected one with {CONFIG_NAME} and {WEIGHTS_NAME}.")
    model = build_from_config(cls, load_config(folder, cls.__name__), folder)
    return load_state_dict_strict(model, folder).requires_grad_(False)
