"""The run folders the explorer shows: each rebuilt (config, generator, assessor, transformer) with its metrics,
and what the page calls it (assessor, objective, generator) and which α it shows (the evaluation's grid)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from ganalyze.api import load_run
from ganalyze.build import plain
from ganalyze.evaluation import alpha_grid
from ganalyze.generators.base import Generator
from ganalyze.settings import saved_config
from ganalyze.transformers import Transformer

METRICS_FILE = Path("eval") / "metrics.json"
CURVES_FILE = Path("eval") / "changes_vs_alpha.png"


@dataclass
class LoadedRun:
    """What a run folder rebuilds into: its config and its three networks (frozen, eval mode, on ``device``)."""

    config: DictConfig
    generator: Generator
    assessor: torch.nn.Module
    transformer: Transformer


def load_run_folder(folder: Path, device: torch.device) -> LoadedRun:
    """Rebuild a run through the public ``ganalyze.load_run``; its raw config names and groups it on the page."""
    run = load_run(folder, device=str(device))
    return LoadedRun(saved_config(folder), run.generator, run.assessor, run.transformer)


def generator_key(config: DictConfig) -> str:
    """Runs whose generator configs are equal share one generator, seeds and classes on the page."""
    return json.dumps(plain(config.generator), sort_keys=True)


def generator_label(node: Mapping[str, Any]) -> str:
    """A short name for a generator config: its ``name``, else the class its ``_target_`` names (shapes, ...)."""
    if node.get("name"):
        return str(node["name"])
    parts = [p for p in str(node.get("_target_", "generator")).split(".") if p.endswith("Generator")]
    return parts[0].removesuffix("Generator").lower() if parts else str(node.get("_target_"))


def objective_label(node: Mapping[str, Any]) -> str:
    """What the run trained for: score, an edit (zoom, ...) or a score holding other assessors."""
    if node.get("edit"):
        return f"edit {node['edit']}"
    if node.get("hold"):
        return "hold " + ", ".join(plain(node["hold"]))
    name = str(node.get("_target_", "objective")).rsplit(".", 1)[-1]
    return name.removesuffix("Objective").lower() or name


@dataclass
class ExplorerRun:
    """One run on the page: its id (folder name in the site), labels, α grid, trained range and metrics."""

    id: str
    folder: Path
    loaded: LoadedRun
    alphas: np.ndarray
    alpha_range: tuple[float, float]
    metrics: dict[str, Any] | None

    @property
    def assessor_name(self) -> str:
        """The assessor's name as the run's config gives it."""
        node = self.loaded.config.assessor
        return str(node.get("name") or node.get("_target_"))

    def describe(self) -> dict[str, Any]:
        """The run's labels for the page and the scores file."""
        cfg = self.loaded.config
        return {"id": self.id, "folder": str(self.folder), "name": self.folder.name, "assessor": self.assessor_name,
                "objective": objective_label(cfg.objective), "transformer": transformer_label(cfg),
                "generator": generator_label(cfg.generator), "alphas": self.alphas.tolist(),
                "alphaRange": list(self.alpha_range), "inside": [bool(v) for v in self.inside()],
                "seed": cfg.get("seed"), "steps": cfg.train.get("steps")}

    def inside(self) -> np.ndarray:
        """Which α of the grid lie in the trained range."""
        low, high = self.alpha_range
        return (self.alphas >= low - 1e-9) & (self.alphas <= high + 1e-9)


def transformer_label(config: DictConfig) -> str:
    """The transformer's kind from its ``_target_`` (linear, classdependent, nonlinear)."""
    return str(config.transformer.get("_target_", "")).rsplit(".", 1)[-1].removesuffix("Transformer").lower()


def evaluated_grid(config: DictConfig, metrics: Mapping[str, Any] | None) -> np.ndarray:
    """The run's evaluation α grid: the settings its metrics.json was made with, else those of its config."""
    settings = (metrics or {}).get("settings") or plain(config.eval)
    return alpha_grid(tuple(float(v) for v in config.train.alpha_range), float(settings["alpha_scale"]),
                      int(settings["num_alphas"]))


def open_run(index: int, folder: Path, device: torch.device) -> ExplorerRun:
    """Load run folder number ``index`` (from 1) with its evaluation metrics, if it has been evaluated."""
    loaded = load_run_folder(folder, device)
    metrics_path = folder / METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    alpha_range = tuple(float(v) for v in loaded.config.train.alpha_range)
    run_id = f"run{index}_" + re.sub(r"[^A-Za-z0-9_-]+", "_", str(loaded.config.assessor.get("name") or "assessor"))
    return ExplorerRun(run_id, folder, loaded, evaluated_grid(loaded.config, metrics), alpha_range, metrics)
