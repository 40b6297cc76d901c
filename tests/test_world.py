"""The shapes world: determinism, ranges, exact variant statistics, measurement accuracy, config errors."""

from __future__ import annotations

import math

import pytest
import torch

from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.world import SHAPE_NAMES, Factors, WorldVariant, list_variants, load_variant, measure, render
from ganalyze.world.render import coverage

torch.set_num_threads(1)


def broad_config(**changes) -> dict:
    """The broad variant's config as a dict, with some keys changed."""
    cfg = {
        "name": "test", "resolution": 32, "classes": "all",
        "size": {"low": 0.05, "high": 0.2}, "position": {"low": 0.0, "high": 1.0},
        "hue": {"low": 0.0, "high": 360.0}, "obj_brightness": {"low": 0.55, "high": 1.0},
        "bg_brightness": {"low": 0.2, "high": 0.8}, "texture": {"low": 0.0, "high": 0.4}, "degrade": None,
    }
    cfg.update(changes)
    return cfg


def circular_error(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Absolute difference of angles in degrees, wrapped to [0, 180]."""
    return torch.remainder(a - b + 180.0, 360.0).sub(180.0).abs()


def test_same_seed_same_images_other_seed_other_images():
    v = load_variant("broad")
    a, fa = v.sample(32, seed=7)
    b, fb = v.sample(32, seed=7)
    c, _ = v.sample(32, seed=8)
    assert torch.equal(a, b) and torch.equal(fa.size, fb.size) and torch.equal(fa.class_id, fb.class_id)
    assert not torch.equal(a, c)
    assert torch.equal(render(fa, 32), a)
    assert torch.equal(v.sample_factors(32, 7).hue, fa.hue)


@pytest.mark.parametrize("name", ["broad", "low_quality"])
@pytest.mark.parametrize("resolution", [32, 64])
def test_images_have_the_documented_shape_and_range(name, resolution):
    images, f = load_variant(name).sample(16, seed=1, resolution=resolution)
    assert images.dtype == torch.float32 and images.shape == (16, 3, resolution, resolution)
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert len(f) == 16 and f.class_id.dtype == torch.long


@pytest.mark.parametrize("name", list_variants())
def test_factors_stay_in_their_ranges_and_objects_inside_the_frame(name):
    v = load_variant(name)
    f = v.sample_factors(500, seed=2)
    for key in ("size", "hue", "obj_brightness", "bg_brightness", "texture"):
        u = getattr(v, key)
        assert u.low - 1e-6 <= getattr(f, key).min() and getattr(f, key).max() <= u.high + 1e-6, key
    assert f.size.min() >= 0.04
    cov = coverage(f, 32)
    border = torch.cat([cov[:, 0], cov[:, -1], cov[:, :, 0], cov[:, :, -1]], dim=1)
    assert border.max() == 0.0


def test_size_factor_is_the_covered_area():
    f = load_variant("broad").sample_factors(600, seed=3)
    assert (coverage(f, 32).mean((1, 2)) - f.size).abs().max() < 0.004


@pytest.mark.parametrize("name", ["broad", "warm", "centered", "size_narrow"])
def test_exact_stats_match_a_large_sample(name):
    v = load_variant(name)
    f = v.sample_factors(40_000, seed=4)
    for key, (mean, std) in v.factor_stats().items():
        values = getattr(f, key).double()
        assert abs(values.mean().item() - mean) < 5 * std / math.sqrt(len(values)) + 1e-9, key
        assert abs(values.std().item() - std) < 0.03 * std + 1e-9, key


def test_enough_variants_with_distinct_spreads_for_the_bias_analysis():
    stats = [load_variant(n).factor_stats() for n in list_variants()]
    for key in ("size", "x", "hue"):
        assert len({round(s[key][1], 4) for s in stats}) >= 4, key


def test_measurement_is_within_the_bounds_on_real_images():
    images, f = load_variant("broad").sample(400, seed=5)
    m = measure(images)
    assert (m["size"] - f.size).abs().mean() <= 0.01
    assert (m["x"] - f.x).abs().mean() * 32 <= 1.0
    assert (m["y"] - f.y).abs().mean() * 32 <= 1.0
    assert circular_error(m["hue"], f.hue).mean() <= 10.0
    assert (m["obj_brightness"] - f.obj_brightness).abs().mean() <= 0.02
    assert (m["bg_brightness"] - f.bg_brightness).abs().mean() <= 0.02


def test_measurement_stays_close_on_degraded_images():
    images, f = load_variant("low_quality").sample(200, seed=6)
    m = measure(images)
    assert (m["size"] - f.size).abs().mean() <= 0.015
    assert (m["x"] - f.x).abs().mean() * 32 <= 1.0
    assert circular_error(m["hue"], f.hue).mean() <= 10.0


def test_measurement_returns_finite_values_on_any_image():
    gen = torch.Generator().manual_seed(0)
    odd = torch.cat([
        torch.rand(4, 3, 32, 32, generator=gen),  # colour noise
        torch.full((2, 3, 32, 32), 0.5),  # flat grey: no object at all
        torch.zeros(1, 3, 32, 32),  # black
        torch.full((1, 3, 32, 32), float("nan")),
    ])
    m = measure(odd)
    for key, value in m.items():
        assert value.shape == (8,) and torch.isfinite(value).all(), key
    assert (m["size"][4:] == 0).all()


def test_shapes_differ_clearly_at_the_smallest_size():
    n = len(SHAPE_NAMES)
    f = Factors(class_id=torch.arange(n), size=torch.full((n,), 0.05), x=torch.full((n,), 0.5),
                y=torch.full((n,), 0.5), hue=torch.zeros(n), obj_brightness=torch.ones(n),
                bg_brightness=torch.full((n,), 0.5), texture=torch.zeros(n))
    cov = coverage(f, 32).flatten(1)
    diff = torch.cdist(cov, cov, p=1) + torch.eye(n) * 1e9
    assert diff.min() >= 4.0  # at least 4 pixels' worth of coverage differ between any two classes


def test_a_hydra_config_builds_a_variant():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(broad_config(classes=["circle", "star"], hue={"low": 0.0, "high": 60.0}))
    v = WorldVariant.from_config(cfg)
    assert v.classes == (0, 4) and v.factor_stats()["hue"] == (30.0, 60.0 / math.sqrt(12))
    assert set(v.sample_factors(50, seed=0).class_id.tolist()) == {0, 4}


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="broad"):
        load_variant("no_such_variant")


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"size": {"low": 0.2, "high": 0.1}}, "size.low"),
        ({"size": {"low": 0.01, "high": 0.1}}, "size"),
        ({"hue": {"low": -10.0, "high": 60.0}}, "hue"),
        ({"obj_brightness": {"low": 0.2, "high": 1.0}}, "obj_brightness"),
        ({"texture": {"low": 0.0, "high": 0.9}}, "bg_brightness"),
        ({"classes": ["circle", "blob"]}, "blob"),
        ({"colour": 3}, "colour"),
        ({"resolution": 4}, "resolution"),
        ({"degrade": {"downscale": 0, "blur_sigma": 1.0, "noise_std": 0.0}}, "downscale"),
    ],
)
def test_bad_config_values_are_named(changes, words):
    with pytest.raises(ConfigError, match=words):
        WorldVariant.from_config(broad_config(**changes))
