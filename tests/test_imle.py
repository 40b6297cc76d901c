"""IMLE on a minority set (ganalyze/imle.py): nearest-neighbour matching, the two loss terms, minority selection."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganalyze.errors import ConfigError
from ganalyze.imle import (MinoritySpec, gaussian_nll, imle_terms, minority_mask, nearest_generated,
                           next_of_same_class, pixel_features)
from ganalyze.world import load_variant


def test_nearest_generated_finds_the_known_neighbour_of_the_same_class() -> None:
    real = torch.tensor([[0.0, 0.0], [10.0, 10.0], [0.2, 0.12]])
    generated = torch.tensor([[9.0, 9.0], [0.2, 0.1], [0.0, 0.05], [5.0, 5.0]])
    same = torch.zeros(4, dtype=torch.long)
    assert nearest_generated(real, torch.zeros(3, dtype=torch.long), generated, same).tolist() == [2, 0, 1]
    # the nearest of another class never counts: real 0 (class 1) must take generated 3, the only one of class 1
    classes = torch.tensor([0, 0, 0, 1])
    assert nearest_generated(real, torch.tensor([1, 0, 0]), generated, classes).tolist() == [3, 0, 1]
    with pytest.raises(ValueError, match="generated samples of that class"):
        nearest_generated(real, torch.tensor([2, 0, 0]), generated, classes)


def test_next_of_same_class_pairs_within_classes() -> None:
    assert next_of_same_class(torch.tensor([4, 1, 4, 4, 2])).tolist() == [2, 1, 3, 0, 4]


def test_imle_terms_match_the_nearest_latent_and_pull_it_to_the_real_example() -> None:
    """A toy 'generator' that draws its latent as the image: the matched latent is the nearest pool latent."""
    scale = torch.nn.Parameter(torch.tensor(1.0))

    def decode(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (scale * z).view(len(z), 3, 2, 2)

    pool = torch.stack([torch.full((12,), v) for v in (0.0, 0.5, 1.0, 2.0)])
    real = torch.stack([torch.full((12,), v) for v in (0.9, 0.1)]).view(2, 3, 2, 2)
    zeros = torch.zeros(2, dtype=torch.long)
    terms = imle_terms(decode, lambda x: x.flatten(1), real, zeros, pool, torch.zeros(4, dtype=torch.long),
                       mix=torch.tensor([1.0, 0.0]))
    assert torch.equal(terms.matched, pool[[2, 0]])
    # mean squared distance: (1.0 - 0.9)^2 and (0 - 0.1)^2 -> 0.01; the term is 0.5 log 0.01
    assert terms.imle.item() == pytest.approx(0.5 * torch.log(torch.tensor(0.01)).item(), abs=1e-5)
    # mix 1 keeps each example's own latent and target; mix 0 takes its partner's: the same distances again
    assert terms.interpolation.item() == pytest.approx(terms.imle.item(), abs=1e-5)
    terms.imle.backward()
    assert scale.grad is not None and scale.grad.abs() > 0  # the matched samples get gradients


def test_imle_terms_in_code_space_match_codes_and_never_decode_the_pool() -> None:
    """With real codes the nearest pool latent is the nearest *code*, even where the decoded images would pick
    another; the pool is never decoded (only the two matched latents, twice: the pull and the interpolation)."""
    decoded: list[int] = []

    def decode(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        decoded.append(len(z))
        return z.sum(1, keepdim=True).expand(len(z), 12).reshape(len(z), 3, 2, 2)  # images see only the code's sum

    pool = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.0, 3.0]])  # sums 1, 1, 3, 3: images cannot tell apart
    codes = torch.tensor([[0.1, 0.9], [2.8, 0.1]])
    real = torch.stack([torch.full((12,), v) for v in (1.0, 3.0)]).view(2, 3, 2, 2)
    zeros2, zeros4 = torch.zeros(2, dtype=torch.long), torch.zeros(4, dtype=torch.long)
    terms = imle_terms(decode, lambda x: x.flatten(1), real, zeros2, pool, zeros4, mix=torch.ones(2), real_codes=codes)
    assert torch.equal(terms.matched, pool[[1, 2]])
    assert decoded == [2, 2]
    assert imle_terms(decode, lambda x: x.flatten(1), real, zeros2, pool, zeros4, mix=None,
                      real_codes=codes).interpolation.item() == 0.0 and decoded == [2, 2, 2]  # no mix: one decode
    assert terms.imle.item() == pytest.approx(0.5 * torch.log(torch.tensor(1e-12)).item(), abs=1e-3)  # exact pull


def test_gaussian_nll_is_half_log_mse() -> None:
    a, b = torch.zeros(4, 3), torch.full((4, 3), 2.0)
    assert gaussian_nll(a, b).item() == pytest.approx(0.5 * torch.log(torch.tensor(4.0)).item())


def test_pixel_features_average_areas() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(1, 3, 1, 1)
    assert pixel_features(x, 2)[0, :4].tolist() == [2.5, 4.5, 10.5, 12.5]


def test_minority_mask_by_class_factor_and_indices_file(tmp_path: Path) -> None:
    _, factors = load_variant("rare_class").sample(400, seed=0, resolution=16)
    stars = minority_mask(factors, MinoritySpec(shape="star"))
    assert torch.equal(stars, factors.class_id == 4) and 0 < int(stars.sum()) < 40  # stars are 3% of rare_class
    small = minority_mask(factors, MinoritySpec(factor="size", low=0.05, high=0.08))
    assert torch.equal(small, (factors.size >= 0.05) & (factors.size <= 0.08)) and small.any()
    (tmp_path / "idx.txt").write_text("3\n\n7\n")
    listed = minority_mask(factors, MinoritySpec(indices_file=str(tmp_path / "idx.txt")))
    assert torch.nonzero(listed).flatten().tolist() == [3, 7]


@pytest.mark.parametrize(("spec", "message"), [
    ({"shape": "hexagon"}, "not a shape of the world"),
    ({"factor": "weight", "low": 0, "high": 1}, "not a factor of the world"),
    ({"factor": "hue", "low": 60.0, "high": 30.0}, "needs low < high"),
    ({}, "exactly one of"),
    ({"shape": "star", "factor": "hue", "low": 0, "high": 1}, "exactly one of"),
])
def test_bad_minority_specs_name_the_value(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MinoritySpec(**spec)


def test_bad_indices_files_are_config_errors(tmp_path: Path) -> None:
    _, factors = load_variant("broad").sample(10, seed=0, resolution=8)
    for text, message in (("1\nseven\n", "whole number"), ("3\n10\n", r"within 0\.\.9"), ("", "within")):
        (tmp_path / "idx.txt").write_text(text)
        with pytest.raises(ConfigError, match=message):
            minority_mask(factors, MinoritySpec(indices_file=str(tmp_path / "idx.txt")))
    with pytest.raises(ConfigError, match="is not a file"):
        minority_mask(factors, MinoritySpec(indices_file=str(tmp_path / "missing.txt")))
