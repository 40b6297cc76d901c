"""The assessor registry: names, creation (frozen), Hydra configs, entry-point plugins and their errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

import assessors.registry as registry
from assessors import Assessor, assessor_from_config, create_assessor, list_assessors, register_assessor
from assessors.plugins import plugin_config, plugin_entry_points, register_plugin_configs
from ganalyze.errors import ConfigError, UnknownNameError

CONF = Path(__file__).resolve().parents[1] / "conf" / "assessor"
BUILT_IN = {"memnet", "aestheticsnet", "object_size", "brightness", "colourfulness", "redness", "centeredness", "simplicity"}
# Assessors that need weights or are heavy on CPU: covered by their own test files.
HEAVY = {"memnet", "aestheticsnet"}


def test_built_in_names_are_listed():
    assert BUILT_IN <= set(list_assessors())
    assert list_assessors() == sorted(list_assessors())


def test_created_assessor_is_frozen_but_passes_gradients_to_images():
    model = create_assessor("brightness")
    assert isinstance(model, Assessor) and not model.training
    images = torch.rand(2, 3, 16, 16, requires_grad=True)
    model(images).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as err:
        create_assessor("memorability")
    assert "'memorability'" in str(err.value) and "memnet" in str(err.value) and "brightness" in str(err.value)


def test_register_decorator_and_duplicate_names():
    class Doubler(Assessor):
        def __init__(self, k: float = 2.0):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor(k))

        def forward(self, images):
            return self.weight * images.mean((1, 2, 3))

    register_assessor("test_doubler")(Doubler)
    try:
        model = create_assessor("test_doubler", k=3.0)
        assert not model.weight.requires_grad and not model.training
        assert torch.allclose(model(torch.ones(1, 3, 4, 4)), torch.tensor([3.0]))
        with pytest.raises(ValueError, match="already registered"):
            register_assessor("test_doubler")(lambda: Doubler())
    finally:
        registry.ASSESSOR_REGISTRY.factories.pop("test_doubler")


def test_a_factory_that_builds_no_module_is_refused():
    register_assessor("test_not_a_module")(lambda: "a string")
    try:
        with pytest.raises(ConfigError, match="not a torch.nn.Module"):
            create_assessor("test_not_a_module")
    finally:
        registry.ASSESSOR_REGISTRY.factories.pop("test_not_a_module")


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_config_names_a_known_assessor(path):
    cfg = OmegaConf.load(path)
    assert cfg.name in list_assessors(), f"{path} names {cfg.name!r}"
    assert cfg.name == path.stem
    if cfg.name in HEAVY or cfg.name not in BUILT_IN:
        return
    for model in (instantiate(cfg), assessor_from_config(cfg)):  # both build routes give the same frozen model
        assert model.score_range == (0.0, 1.0) and not model.training
        scores = model(torch.rand(2, 3, 24, 24))
        assert scores.shape == (2,) and torch.all((scores >= 0) & (scores <= 1))


def test_config_with_a_class_target_is_built_and_frozen():
    cfg = OmegaConf.create({"_target_": "assessors.factors.FactorAssessor", "name": "my_redness", "factor": "redness"})
    model = assessor_from_config(cfg)
    assert type(model).__name__ == "FactorAssessor" and model.factor == "redness" and not model.training
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    assert model(red).item() == pytest.approx(1.0)


def test_config_without_a_name_is_a_clear_error():
    with pytest.raises(ConfigError, match="needs `name"):
        assessor_from_config({"_target_": "assessors.create_assessor", "size": 3})


def _write_plugin(root: Path, dist: str, module: str, entry: str, yaml: str | None) -> None:
    """A minimal installed distribution (dist-info with an entry point) and its package under ``root``."""
    package = root / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "import torch\nfrom assessors import Assessor\n\n"
        "class Contrast(Assessor):\n"
        "    score_range = None\n"
        "    def __init__(self, scale=1.0):\n"
        "        super().__init__()\n        self.scale = scale\n"
        "    def forward(self, images):\n"
        "        return self.scale * images.flatten(1).std(1)\n"
    )
    if yaml is not None:
        (package / f"{entry.split('=')[0].strip()}.yaml").write_text(yaml)
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"  # wheel-style normalised name
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ganalyze.assessors]\n{entry}\n")


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """Two installed plugins on sys.path: one with a shipped YAML, one without; cleaned up after the test."""
    _write_plugin(tmp_path, "fake-contrast", "fake_contrast", "contrast = fake_contrast:Contrast", "scale: 2.0\n")
    _write_plugin(tmp_path, "fake-bare", "fake_bare", "bare_contrast = fake_bare:Contrast", None)
    _write_plugin(tmp_path, "fake-broken", "fake_broken", "broken = fake_broken.missing:Nothing", None)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for name in ("contrast", "bare_contrast", "broken"):
        registry.ASSESSOR_REGISTRY.factories.pop(name, None)
    for module in ("fake_contrast", "fake_bare", "fake_broken"):
        sys.modules.pop(module, None)


def test_plugins_are_found_through_entry_points(fake_plugins):
    assert {"contrast", "bare_contrast", "broken"} <= set(list_assessors())
    model = create_assessor("contrast", scale=3.0)
    assert type(model).__name__ == "Contrast" and model.scale == 3.0 and not model.training


def test_plugin_configs_use_the_shipped_yaml_or_a_minimal_one(fake_plugins):
    found = plugin_entry_points()
    assert plugin_config(found["contrast"]) == {"_target_": "assessors.create_assessor", "name": "contrast", "scale": 2.0}
    assert plugin_config(found["bare_contrast"]) == {"_target_": "assessors.create_assessor", "name": "bare_contrast"}
    assert assessor_from_config(plugin_config(found["contrast"])).scale == 2.0


def test_plugin_configs_compose_as_hydra_options(fake_plugins):
    from hydra import compose, initialize_config_dir

    from ganalyze.settings import register_schema

    register_schema()  # what importing ganalyze.conf does; reading the config folder by path does not import it
    assert {"contrast", "bare_contrast"} <= set(register_plugin_configs())
    with initialize_config_dir(str(CONF.parent), version_base=None):
        # Only the assessor group: the other groups of config.yaml belong to the training app's tests.
        cfg = compose("config", overrides=["~generator", "~transformer", "~objective", "~logger",
                                           "assessor=contrast", "assessor.scale=5"])
    assert cfg.assessor.name == "contrast" and cfg.run_name == "contrast"
    assert assessor_from_config(cfg.assessor).scale == 5


def test_a_broken_plugin_is_named_when_used(fake_plugins, tmp_path):
    with pytest.raises(ConfigError, match="'broken'.*could not be imported"):
        create_assessor("broken")
    (tmp_path / "fake_contrast" / "contrast.yaml").write_text("- a list, not options\n")
    with pytest.raises(ConfigError, match="'contrast'.*must hold a mapping"):
        plugin_config(plugin_entry_points()["contrast"])
