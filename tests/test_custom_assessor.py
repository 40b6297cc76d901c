"""Bring your own assessor: the example package in examples/custom_assessor, installed with pip (into a
temporary folder, no package edit), is found by name and trains with `ganalyze-train assessor=warmth`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

import assessors.registry as registry
from assessors import create_assessor, list_assessors
from installs import install_example, plugin_on_path, train_with_plugin

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "custom_assessor"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example installed by pip into a fresh folder."""
    return install_example(tmp_path_factory, EXAMPLE)


@pytest.fixture
def on_path(site, monkeypatch):
    """The installed example on sys.path for one test; forgotten by the registry afterwards."""
    with plugin_on_path(site, monkeypatch, registry.ASSESSOR_REGISTRY, "warmth", "ganalyze_example_assessor"):
        yield


def test_installed_example_is_found_by_name(on_path):
    assert "warmth" in list_assessors()
    model = create_assessor("warmth", gain=1.0)
    warm = torch.zeros(1, 3, 8, 8)
    warm[:, 0] = 1.0
    assert model(warm).item() == pytest.approx(1.0) and not model.training


def test_example_trains_with_ganalyze_train(site, tmp_path):
    run_dir = tmp_path / "run"
    result = train_with_plugin(site, tmp_path, [
        "assessor=warmth", "assessor.gain=2", "generator=tiny_biggan", "logger=none", "train.steps=3",
        "train.batch_size=4", "eval.enabled=false", f"run_dir={run_dir}"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["assessor"] == {"_target_": "assessors.create_assessor", "name": "warmth", "gain": 2}
    assert config["run_name"] == "warmth"
    losses = (run_dir / "train_loss.csv").read_text().strip().splitlines()
    assert len(losses) == 1 + 3  # header + one row per step
    assert (run_dir / "transformer" / "model.pt").is_file()
