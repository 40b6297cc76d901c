"""scripts/projection_bayes_judge.py: the exact posterior over world data sets, checked against hand arithmetic."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import projection_bayes_judge as bayes  # noqa: E402

from ganalyze.world import load_variant  # noqa: E402

FIVE = ["warm", "cool", "centered", "size_narrow", "low_quality"]


def one_image(hue: float, size: float, x: float, y: float) -> dict[str, torch.Tensor]:
    """The factors bayes.posterior reads, for one circle (class 0)."""
    value = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    return {"hue": value(hue), "size": value(size), "x": value(x), "y": value(y), "class_id": torch.tensor([0])}


def test_only_the_laws_that_differ_tell_sets_apart():
    assert bayes.laws_that_differ([load_variant("warm"), load_variant("cool")]) == ["hue"]
    assert bayes.laws_that_differ([load_variant(n) for n in FIVE]) == ["size", "hue", "position"]


def test_posterior_matches_the_ratio_of_uniform_densities():
    variants = [load_variant(n) for n in FIVE]
    # a cool hue, a size in size_narrow's range [0.11, 0.14], off the middle (place 0.18 of the band): cool
    # against size_narrow only
    p = bayes.posterior(one_image(200.0, 0.12, 0.33, 0.33), False, variants)[0]
    cool, narrow = (1 / 80) * (1 / 0.15), (1 / 360) * (1 / 0.03)
    assert p[1] == pytest.approx(cool / (cool + narrow))
    assert p[3] == pytest.approx(narrow / (cool + narrow))
    assert p[0] == p[2] == p[4] == 0.0
    # a cool hue and a size outside size_narrow's range, off the middle: surely cool
    assert bayes.posterior(one_image(200.0, 0.18, 0.33, 0.33), False, variants)[0, 1] == pytest.approx(1.0)
    # a hue no set of these allows has no posterior
    assert np.isnan(bayes.posterior(one_image(120.0, 0.18, 0.33, 0.33), False, variants[:2])).all()
    # a degraded image can only be low_quality
    assert bayes.posterior(one_image(200.0, 0.12, 0.5, 0.5), True, variants)[0, 4] == pytest.approx(1.0)


def test_places_invert_the_worlds_placing():
    variant = load_variant("centered")
    _, factors = variant.sample(200, seed=5)
    px, py = bayes.places({k: v.double() for k, v in factors.as_dict().items()} | {"class_id": factors.class_id})
    assert px.min() >= 0.35 - 1e-5 and px.max() <= 0.65 + 1e-5
    assert py.min() >= 0.35 - 1e-5 and py.max() <= 0.65 + 1e-5


def test_measured_factors_give_the_true_factors_verdict_on_real_images():
    table = bayes.real_table(["warm", "cool", "centered", "size_narrow"], images=300, seed=11)
    for name, row in table.items():
        assert row["measured"]["share_no_set_allows"] <= 0.03, name
        assert row["measured"]["mean_p_own"] == pytest.approx(row["true"]["mean_p_own"], abs=0.03), name
    # cool by the sets' definitions: 1 unless the object lies in centered's band on both axes (9%) or in
    # size_narrow's size range (20%); worked out on docs/projection.md, about 0.84
    assert table["cool"]["true"]["mean_p_own"] == pytest.approx(0.84, abs=0.04)


def test_a_trained_judge_is_read_on_the_same_real_images(tmp_path):
    from ganalyze.projection.variant_classifier import VariantClassifier

    names = ["warm", "cool"]
    judge = VariantClassifier(names)
    torch.nn.init.zeros_(judge.head[-1].weight)
    torch.nn.init.zeros_(judge.head[-1].bias)  # logits 0: P = 1/2 for every image, argmax the first set
    judge.save_pretrained(tmp_path / "judge")
    table = bayes.real_table(names, images=20, seed=3, judges=[str(tmp_path / "judge")])
    row = table["cool"][str(tmp_path / "judge")]
    assert row["mean_p_own"] == pytest.approx(0.5) and row["accuracy"] == 0.0
    assert table["warm"][str(tmp_path / "judge")]["accuracy"] == 1.0
    with pytest.raises(SystemExit, match="tells"):
        bayes.real_table(["cool", "warm"], images=5, seed=3, judges=[str(tmp_path / "judge")])
