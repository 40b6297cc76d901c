"""Conditional directions: the InterFaceGAN projection against its closed form on random vectors, save/load, and
the transformer=conditional option end to end on a random tiny BigGAN (two conditions, then ganalyze-eval)."""

import json
import sys

import numpy as np
import pytest
import torch

from ganalyze.cli import evaluate as eval_cli
from ganalyze.cli import train as train_cli
from ganalyze.errors import ConfigError
from ganalyze.transformers import (ConditionalTransformer, LinearTransformer, NonlinearTransformer, condition_on,
                                   load_transformer)
from ganalyze.transformers.conditional import conditional_direction, project_out, run_transformer

# fp32 pinned: on CPUs with native bf16 (precision=auto's pick there) the tiny generator's score changes along a
# walk round to nothing and the evaluated slope is exactly 0.
TINY = ["generator=tiny_biggan", "logger=none", "train.batch_size=2", "train.steps=2", "eval.num_seeds=4",
        "eval.num_alphas=3", "eval.grid_seeds=2", "eval.random_directions=1", "train.fast.precision=fp32"]


def linear(theta: torch.Tensor) -> LinearTransformer:
    model = LinearTransformer(theta.shape[1], len(theta))
    with torch.no_grad():
        model.theta.copy_(theta)
    return model


def test_one_condition_is_interfacegans_formula():
    gen = torch.Generator().manual_seed(0)
    n1, n2 = torch.randn(1, 32, generator=gen, dtype=torch.float64), torch.randn(1, 32, generator=gen, dtype=torch.float64)
    n2 = n2 / n2.norm()
    expected = n1 - (n1 @ n2.T) * n2
    assert torch.allclose(project_out(n1, n2), expected, atol=1e-12)
    assert abs(float(project_out(n1, 3.0 * n2) @ n2.T)) < 1e-12  # the condition's length does not matter


def test_several_conditions_give_the_least_squares_residual_orthogonal_to_each():
    rng = np.random.default_rng(1)
    primary, conditions = rng.normal(size=(2, 40)), rng.normal(size=(5, 40))
    residual = project_out(torch.from_numpy(primary), torch.from_numpy(conditions)).numpy()
    coefficients, *_ = np.linalg.lstsq(conditions.T, primary.T, rcond=None)
    assert np.allclose(residual, primary - (conditions.T @ coefficients).T, atol=1e-10)
    assert np.abs(conditions @ residual.T).max() < 1e-10
    assert np.linalg.norm(residual, axis=1).min() > 0.5 * np.linalg.norm(primary, axis=1).min()  # not trivially zero


def test_lengths_and_bad_conditions():
    gen = torch.Generator().manual_seed(2)
    primary, conditions = torch.randn(1, 16, generator=gen), torch.randn(3, 16, generator=gen)
    projected = conditional_direction(primary, conditions, "projected")
    rescaled = conditional_direction(primary, conditions, "primary_norm")
    assert projected.norm() < primary.norm()
    assert torch.allclose(rescaled.norm(), primary.norm()) and torch.allclose(rescaled / rescaled.norm(),
                                                                              projected / projected.norm())
    with pytest.raises(ConfigError, match="length='unit'"):
        conditional_direction(primary, conditions, "unit")
    with pytest.raises(ConfigError, match="linearly dependent"):
        conditional_direction(primary, torch.cat([conditions, conditions[:1] * 2]))
    with pytest.raises(ConfigError, match="span of the conditions"):
        conditional_direction(conditions[:1] + 2 * conditions[1:2], conditions)
    with pytest.raises(ConfigError, match="same generator"):
        conditional_direction(primary, torch.randn(1, 8))


def test_condition_on_walks_the_projected_direction_and_round_trips(tmp_path):
    gen = torch.Generator().manual_seed(3)
    primary, conditions = torch.randn(1, 24, generator=gen), torch.randn(2, 24, generator=gen)
    model = condition_on(linear(primary), [linear(conditions[:1]), linear(conditions[1:])])
    n_prime = project_out(primary, conditions)
    z, alpha = torch.randn(5, 24, generator=gen), torch.linspace(-1, 1, 5)
    assert torch.allclose(model(z, alpha, None), z + alpha[:, None] * n_prime, atol=1e-5)
    loaded = load_transformer(model.save_pretrained(tmp_path / "t"))
    assert isinstance(loaded, ConditionalTransformer) and torch.equal(loaded(z, alpha, None), model(z, alpha, None))
    baseline = model.random_like(z, None, torch.Generator().manual_seed(0))
    assert torch.allclose(baseline.theta.norm(), n_prime.norm(), rtol=1e-5)
    with pytest.raises(ConfigError, match="nonlinear transformer"):
        condition_on(NonlinearTransformer(24), [linear(conditions[:1])])


def train(monkeypatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["ganalyze-train", *TINY, *args])
    train_cli.main()


def test_conditional_option_end_to_end_on_a_random_tiny_biggan(tmp_path, monkeypatch, capsys):
    """Two condition runs and a primary, then the conditional run (train.steps=0), evaluated like any run."""
    for name in ("brightness", "colourfulness", "redness"):
        train(monkeypatch, f"assessor={name}", "eval.enabled=false", f"run_dir={tmp_path / name}")
    run_dir = tmp_path / "conditional"
    train(monkeypatch, "assessor=brightness", "transformer=conditional", "train.steps=0",
          f"transformer.primary={tmp_path / 'brightness'}",
          f"transformer.conditions=[{tmp_path / 'colourfulness'},{tmp_path / 'redness'}]", f"run_dir={run_dir}")
    walked = load_transformer(run_dir / "transformer")
    assert isinstance(walked, ConditionalTransformer)
    n1 = run_transformer(tmp_path / "brightness").theta
    conditions = torch.cat([run_transformer(tmp_path / n).theta for n in ("colourfulness", "redness")])
    n_prime = walked.direction()
    assert (conditions @ n_prime.T).abs().max() < 1e-5 * n1.norm() * conditions.norm(dim=1).max()
    assert torch.allclose(n_prime, project_out(n1, conditions), atol=1e-6)
    assert json.loads((run_dir / "eval" / "metrics.json").read_text())["metrics"]["trained"]["score"]["slope"] != 0
    monkeypatch.setattr(sys, "argv", ["ganalyze-eval", f"run_dir={run_dir}", "eval.num_seeds=3"])
    eval_cli.main()
    assert "evaluation written to" in capsys.readouterr().out


def test_the_conditional_option_names_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["ganalyze-train", *TINY, "assessor=brightness", "transformer=conditional",
                                      f"transformer.primary={tmp_path / 'nowhere'}", "transformer.conditions=[]",
                                      f"run_dir={tmp_path / 'r'}"])
    with pytest.raises(SystemExit) as exit_:
        train_cli.main()
    assert exit_.value.code == 2
    assert "transformer.conditions=[<run folder>" in capsys.readouterr().err
