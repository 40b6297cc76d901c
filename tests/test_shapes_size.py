"""The shapes_size assessor: shipped weights, accuracy on fresh world images, gradients, safe loading."""

from __future__ import annotations

import shutil

import pytest
import torch

from omegaconf import OmegaConf

from assessors import assessor_from_config, create_assessor, list_assessors
from assessors.shapes_size import SHIPPED_WEIGHTS, ShapesSize
from ganalyze.errors import WeightsError
from ganalyze.world import load_variant

torch.set_num_threads(1)
MAE_BOUND = 0.006  # area fraction; the shipped weights measure 0.0020 on 2,000 held-out images (metrics.json)


@pytest.fixture(scope="module")
def assessor() -> ShapesSize:
    return create_assessor("shapes_size")


def test_registered_and_loads_the_shipped_weights(assessor):
    assert "shapes_size" in list_assessors()
    assert not assessor.training and not any(p.requires_grad for p in assessor.parameters())


def test_hydra_config_builds_the_shipped_assessor(assessor):
    from importlib import resources

    cfg = OmegaConf.create((resources.files("ganalyze.conf") / "assessor" / "shapes_size.yaml").read_text())
    built = assessor_from_config(cfg)
    images, _ = load_variant("broad").sample(4, seed=14)
    with torch.no_grad():
        assert torch.equal(built(images), assessor(images))


def test_score_range_is_the_size_range_of_the_world(assessor):
    broad = load_variant("broad").size
    assert assessor.score_range == (broad.low, broad.high)


@pytest.mark.parametrize("resolution", [32, 64, 20])
def test_output_shape_and_range_at_any_size(assessor, resolution):
    images, _ = load_variant("broad").sample(8, seed=11, resolution=resolution)
    with torch.no_grad():
        scores = assessor(images)
    assert scores.shape == (8,) and torch.isfinite(scores).all()
    assert (scores > 0.0).all() and (scores < 0.3).all()


def test_predicts_the_true_size_of_fresh_world_images(assessor):
    images, factors = load_variant("broad").sample(300, seed=424242)
    with torch.no_grad():
        scores = assessor(images)
    assert (scores - factors.size).abs().mean() <= MAE_BOUND
    assert torch.corrcoef(torch.stack([scores, factors.size]))[0, 1] >= 0.95


def test_gradient_reaches_the_image(assessor):
    images, _ = load_variant("broad").sample(4, seed=12)
    images.requires_grad_(True)
    assessor(images).sum().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all()
    assert (images.grad.flatten(1).abs().sum(1) > 0).all()


def test_save_and_reload_round_trip(tmp_path, assessor):
    assessor.save_pretrained(tmp_path)
    again = ShapesSize.from_pretrained(tmp_path)
    images, _ = load_variant("broad").sample(4, seed=13)
    with torch.no_grad():
        assert torch.equal(again(images), assessor(images))


def test_corrupted_weight_file_is_a_weights_error(tmp_path):
    shutil.copytree(SHIPPED_WEIGHTS, tmp_path / "w")
    (tmp_path / "w" / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="model.pt"):
        create_assessor("shapes_size", weights=tmp_path / "w")


def test_missing_weight_folder_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="nowhere"):
        ShapesSize.from_pretrained(tmp_path / "nowhere")
