"""Training checkpoints: atomic writes, safe reads, and a refusal to resume under another config."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ganalyze.atomic import write_with
from ganalyze.errors import ConfigError, WeightsError


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` atomically (ganalyze/atomic.py: temp file, fsync, rename), so it is never half-written."""
    write_with(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by save_checkpoint with ``weights_only=True`` (it cannot run code)."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or foreign files raise several types
        raise WeightsError(
            f"checkpoint {path} could not be read as a safe checkpoint ({err}); delete it to start over, "
            "or point run_dir at another run folder."
        ) from err
    if not isinstance(state, dict):
        raise WeightsError(f"checkpoint {path} holds a {type(state).__name__}, not a checkpoint dict; delete it to start over.")
    return state


def save_training_state(path: str | os.PathLike, step: int, **parts: Any) -> None:
    """Checkpoint the state dicts of ``parts`` (model, optimizer, scheduler...) under their names, with the step."""
    save_checkpoint({"step": step, **{name: part.state_dict() for name, part in parts.items()}}, path)


def resume_training_state(path: str | os.PathLike, **parts: Any) -> int:
    """Load each of ``parts`` from a save_training_state checkpoint by its name; return the step it reached."""
    state = load_checkpoint(path)
    missing = [name for name in ("step", *parts) if name not in state]
    if missing:
        raise WeightsError(f"checkpoint {path} lacks {', '.join(missing)} (written by another script?); delete it to "
                           "start over.")
    for name, part in parts.items():
        part.load_state_dict(state[name])
    return int(state["step"])


def config_fingerprint(config: dict[str, Any]) -> str:
    """A short hash of a JSON-able config, the same for equal configs whatever their key order."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stamp_config(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Add the config (as JSON) and its fingerprint to a checkpoint state, so a resume can check it."""
    return {**state, "config_json": json.dumps(config, sort_keys=True, default=str),
            "config_fingerprint": config_fingerprint(config)}


def config_differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested configs, as 'key: saved -> current' strings."""
    if isinstance(saved, dict) and isinstance(current, dict):
        lines: list[str] = []
        for key in sorted(set(saved) | set(current), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved or key not in current:
                lines.append(f"{name}: {saved.get(key, '<absent>')!r} -> {current.get(key, '<absent>')!r}")
            else:
                lines += config_differences(saved[key], current[key], name)
        return lines
    return [] if saved == current else [f"{prefix}: {saved!r} -> {current!r}"]


def check_resumable(checkpoint: dict[str, Any], config: dict[str, Any], path: str | os.PathLike) -> None:
    """Raise ConfigError, naming the differing keys, if ``checkpoint`` was made under another ``config``."""
    if checkpoint.get("config_fingerprint") == config_fingerprint(config):
        return
    try:
        saved = json.loads(checkpoint.get("config_json", "{}"))
    except (TypeError, ValueError):
        saved = {}
    diffs = config_differences(saved, json.loads(json.dumps(config, default=str)))
    diffs = diffs or ["the checkpoint holds no readable config"]
    raise ConfigError(
        f"cannot resume from {path}: it was made with another config ({'; '.join(diffs[:8])}"
        f"{'; ...' if len(diffs) > 8 else ''}). Resume with the settings it was made with "
        "(see config.yaml in its run folder) or start a new run folder with resume=false."
    )
