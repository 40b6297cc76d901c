"""The world option the audits' ground truth needs: class_weights (conf/world/rare_class.yaml: stars 3%)."""

import pytest
import torch

from ganalyze.errors import ConfigError
from ganalyze.world import SHAPE_NAMES, WorldVariant, load_variant


def test_rare_class_draws_stars_at_their_weight_and_its_stats_follow():
    variant = load_variant("rare_class")
    _, factors = variant.sample(20000, seed=0)
    share = torch.bincount(factors.class_id, minlength=len(SHAPE_NAMES)).float() / len(factors)
    assert abs(share[SHAPE_NAMES.index("star")].item() - 0.03) < 0.005
    assert (share[[0, 1, 2, 3, 5]] - 0.194).abs().max().item() < 0.015
    mean, std = variant.factor_stats()["x"]  # closed form, weighted by the classes' shares
    assert abs(factors.x.double().mean().item() - mean) < 0.004 and abs(factors.x.double().std().item() - std) < 0.004


def test_variants_without_weights_draw_as_before_and_bad_weights_fail():
    broad = load_variant("broad")
    assert broad.class_weights is None
    _, factors = broad.sample(5, seed=0)
    assert factors.class_id.tolist() == [2, 3, 5, 0, 1]  # the uniform draw of every earlier variant, unchanged
    cfg = {k: {"low": getattr(broad, k).low, "high": getattr(broad, k).high}
           for k in ("size", "position", "hue", "obj_brightness", "bg_brightness", "texture")}
    with pytest.raises(ConfigError, match="class_weights must be null"):
        WorldVariant.from_config({"name": "bad", **cfg, "class_weights": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="not all zero"):
        WorldVariant.from_config({"name": "bad", **cfg, "class_weights": [0] * 6})
