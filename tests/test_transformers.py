"""Transformers: the math of each edit, per-sample norm preservation, random baselines, save/load."""

import json

import pytest
import torch

from ganalyze.errors import WeightsError
from ganalyze.transformers import (ClassDependentTransformer, LinearTransformer, NonlinearTransformer,
                                   load_transformer)


def test_linear_moves_each_latent_by_alpha_theta():
    t = LinearTransformer(dim_z=4)
    z = torch.randn(3, 4)
    alpha = torch.tensor([-1.0, 0.0, 2.0])
    expected = z + alpha[:, None] * t.theta[0]
    assert torch.allclose(t(z, alpha, None), expected)
    assert torch.allclose(t(z, alpha[:, None], None), expected)  # (N, 1) is the same as (N,)


def test_linear_with_several_sliders_sums_their_directions():
    t = LinearTransformer(dim_z=5, alpha_dim=3)
    z, alpha = torch.randn(2, 5), torch.randn(2, 3)
    assert torch.allclose(t(z, alpha, None), z + alpha @ t.theta)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        t(z, torch.randn(2), None)


def test_norm_is_preserved_per_sample_not_per_batch():
    t = LinearTransformer(dim_z=8, preserve_norm=True, init_std=1.0)
    z = torch.randn(4, 8) * torch.tensor([[0.5], [1.0], [2.0], [4.0]])  # very different norms
    out = t(z, torch.full((4,), 0.7), None)
    assert torch.allclose(out.norm(dim=1), z.norm(dim=1), rtol=1e-5)
    assert not torch.allclose(out, z + 0.7 * t.theta[0])  # the rescaling did something


def test_class_dependent_uses_the_direction_of_each_class():
    t = ClassDependentTransformer(dim_z=3, num_classes=4, init_std=1.0)
    z, y = torch.zeros(2, 3), torch.tensor([1, 3])
    out = t(z, torch.tensor([1.0, 2.0]), y)
    assert torch.allclose(out[0], t.theta[1, 0]) and torch.allclose(out[1], 2 * t.theta[3, 0])


def test_nonlinear_walk_keeps_norm_and_is_identity_at_zero():
    t = NonlinearTransformer(dim_z=6, steps=4, init_std=1.0)
    z = torch.randn(5, 6)
    assert torch.allclose(t(z, torch.zeros(5), None), z, atol=1e-6)
    out = t(z, torch.linspace(-2, 2, 5), None)
    assert torch.allclose(out.norm(dim=1), z.norm(dim=1), rtol=1e-5)
    one_step = NonlinearTransformer(dim_z=6, steps=1, hidden=64)
    one_step.load_state_dict(t.state_dict())
    step = z + 0.5 * one_step.directions(z)[:, 0]
    assert torch.allclose(one_step(z, torch.full((5,), 0.5), None), step * z.norm(dim=1, keepdim=True) / step.norm(dim=1, keepdim=True), atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: LinearTransformer(dim_z=6, alpha_dim=2, init_std=1.0),
    lambda: ClassDependentTransformer(dim_z=6, num_classes=3, init_std=1.0),
])
def test_random_baseline_has_the_same_norms_but_another_direction(make):
    t = make()
    z, y = torch.randn(4, 6), torch.tensor([0, 1, 2, 0])
    baseline = t.random_like(z, y, torch.Generator().manual_seed(0))
    assert torch.allclose(baseline.theta.norm(dim=-1), t.theta.norm(dim=-1), rtol=1e-5)
    cosine = torch.nn.functional.cosine_similarity(baseline.theta, t.theta, dim=-1)
    assert cosine.abs().max() < 0.999
    assert not any(p.requires_grad for p in baseline.parameters())


def test_nonlinear_baseline_is_a_norm_preserving_line_of_its_mean_step():
    t = NonlinearTransformer(dim_z=6, init_std=1.0)
    z = torch.randn(10, 6)
    baseline = t.random_like(z, None, torch.Generator().manual_seed(0))
    assert baseline.preserve_norm
    assert torch.allclose(baseline.theta.norm(), t.directions(z).norm(dim=-1).mean(), rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: LinearTransformer(dim_z=6, preserve_norm=True),
    lambda: ClassDependentTransformer(dim_z=6, num_classes=3),
    lambda: NonlinearTransformer(dim_z=6, hidden=8, steps=2),
])
def test_save_and_load_round_trip(tmp_path, make):
    t = make()
    t.save_pretrained(tmp_path)
    loaded = load_transformer(tmp_path)
    assert type(loaded) is type(t) and not loaded.training
    z, y, alpha = torch.randn(3, 6), torch.tensor([0, 1, 2]), torch.tensor([0.3, -0.2, 1.0])
    assert torch.equal(loaded(z, alpha, y), t(z, alpha, y))


def test_loading_an_unknown_kind_fails_clearly(tmp_path):
    LinearTransformer(dim_z=4).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "kind": "os.system"}))
    with pytest.raises(WeightsError, match="known kinds: class_dependent, class_rotation, conditional, linear, nonlinear, rotation"):
        load_transformer(tmp_path)
