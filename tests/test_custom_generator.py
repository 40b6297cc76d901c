"""Bring your own generator: the example package in examples/custom_generator, installed with pip (into a
temporary folder, no package edit), is found by name and trains with `ganalyze-train generator=colour_field`;
the built-in generators are in the same registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import ganalyze.generators.registry as registry
from ganalyze.build import build_generator
from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.generators import create_generator, list_generators, register_generator
from installs import install_example, plugin_on_path, train_with_plugin

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "custom_generator"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example installed by pip into a fresh folder."""
    return install_example(tmp_path_factory, EXAMPLE)


@pytest.fixture
def on_path(site, monkeypatch):
    """The installed example on sys.path for one test; forgotten by the registry afterwards."""
    with plugin_on_path(site, monkeypatch, registry.GENERATOR_REGISTRY, "colour_field", "ganalyze_example_generator"):
        yield


def test_builtins_are_registered_by_their_config_names():
    assert {"shapes", "tiny_biggan", "biggan_deep_128", "biggan_deep_256", "biggan_deep_512"} <= set(list_generators())
    tiny = create_generator("tiny_biggan", init_seed=3)
    assert (tiny.resolution, tiny.num_classes, tiny.dim_z) == (32, 10, 16) and not tiny.training
    assert not any(p.requires_grad for p in tiny.parameters())
    with pytest.raises(UnknownNameError, match="unknown generator 'nope'.*tiny_biggan.*ganalyze.generators"):
        create_generator("nope")


def test_a_registered_class_builds_by_name_and_from_a_name_config():
    class Flat(torch.nn.Module):
        dim_z, num_classes, resolution = 2, 1, 8

        def sample_latents(self, n, seed, truncation=1.0, classes=None):
            return torch.zeros(n, 2), torch.zeros(n, dtype=torch.long)

    try:
        register_generator("flat_test")(Flat)
        assert isinstance(build_generator({"_target_": "ganalyze.generators.create_generator", "name": "flat_test"}),
                          Flat)
        register_generator("not_a_generator")(lambda: torch.nn.Identity())
        with pytest.raises(ConfigError, match="lacking.*dim_z"):
            create_generator("not_a_generator")
    finally:
        registry.GENERATOR_REGISTRY.factories.pop("flat_test", None)
        registry.GENERATOR_REGISTRY.factories.pop("not_a_generator", None)


def test_installed_example_is_found_by_name(on_path):
    assert "colour_field" in list_generators()
    generator = create_generator("colour_field", resolution=16)
    z, y = generator.sample_latents(3, seed=0)
    images = generator(z, y)
    assert images.shape == (3, 3, 16, 16) and 0 <= images.min() and images.max() <= 1 and not generator.training


def test_example_trains_with_ganalyze_train(site, tmp_path):
    run_dir = tmp_path / "run"
    result = train_with_plugin(site, tmp_path, [
        "generator=colour_field", "generator.resolution=16", "assessor=brightness", "logger=none", "train.steps=3",
        "train.batch_size=4", "eval.num_seeds=4", "eval.num_alphas=3", "eval.random_directions=1",
        f"run_dir={run_dir}"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["generator"] == {"_target_": "ganalyze.generators.create_generator", "name": "colour_field",
                                   "resolution": 16, "num_classes": 4, "dim_z": 16, "seed": 0}
    assert len((run_dir / "train_loss.csv").read_text().strip().splitlines()) == 1 + 3  # header + one row per step
    assert (run_dir / "transformer" / "model.pt").is_file()
    assert json.loads((run_dir / "eval" / "metrics.json").read_text())["num_seeds"] == 4
