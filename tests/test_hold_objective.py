"""HoldObjective: raise one assessor while holding others at their α = 0 scores."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module

from assessors import create_assessor
from ganalyze.build import build_assessor, build_objective
from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.objectives import HoldObjective, ScoreObjective
from ganalyze.training import TrainSettings, train
from ganalyze.transformers import LinearTransformer

torch.set_num_threads(1)


class TwoWayBrightGenerator(torch.nn.Module):
    """Images brightened two ways: z[:, 0] reddens (red channel only), z[:, 1] brightens all channels (grey).

    Redness depends on z[:, 0] alone, so holding redness leaves only the grey way to brighten.
    """

    dim_z, num_classes, resolution = 2, 1, 4

    def sample_latents(self, n, seed, truncation=1.0, classes=None):
        return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)), torch.zeros(n, dtype=torch.long)

    def forward(self, z, y):
        red, grey = 0.5 * torch.sigmoid(z[:, 0]), 0.5 * torch.sigmoid(z[:, 1])
        return torch.stack([red + grey, grey, grey], 1)[:, :, None, None].expand(len(z), 3, 4, 4)


def test_target_and_loss_are_the_weighted_sum_of_score_errors():
    objective = HoldObjective(create_assessor("brightness"), hold={"redness": 3.0})
    x0 = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    x1 = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    alpha = torch.full((5,), 0.1)
    brightness, redness = create_assessor("brightness"), create_assessor("redness")
    target = objective.target(x0, alpha)
    assert torch.allclose(target.raised, (brightness(x0) + 0.1).clamp(0, 1))
    assert torch.allclose(target.held["redness"], redness(x0))
    expected = F.mse_loss(brightness(x1), target.raised) + 3.0 * F.mse_loss(redness(x1), redness(x0))
    assert objective.loss(x1, target).item() == pytest.approx(expected.item(), rel=1e-6)


def direction(objective, tmp_path) -> torch.Tensor:
    """θ learned on the two-way generator from a zero start."""
    torch.manual_seed(0)
    transformer = LinearTransformer(2, init_std=0.0)
    train(TwoWayBrightGenerator(), transformer, objective,
          TrainSettings(steps=150, batch_size=16, lr=0.05, alpha_range=(-0.1, 0.1)), tmp_path, {})
    return transformer.theta.detach()[0]


def test_holding_redness_makes_the_direction_brighten_without_reddening(tmp_path):
    plain = direction(ScoreObjective(create_assessor("brightness")), tmp_path / "plain")
    held = direction(HoldObjective(create_assessor("brightness"), hold={"redness": 10.0}), tmp_path / "held")
    assert plain[0] > 0.3 and plain[1] > 0.3  # the plain score objective brightens both ways, reddening too
    assert held[1] > 0.3  # still brightens...
    assert abs(held[0]) < 0.2 * plain[0]  # ...but barely along the reddening coordinate


@pytest.mark.parametrize("hold, error", [({}, ConfigError), ({"redness": -1.0}, ConfigError),
                                         ({"redness": "a lot"}, ConfigError), ({"no_such": 1.0}, UnknownNameError)])
def test_bad_hold_settings_fail_clearly(hold, error):
    with pytest.raises(error):
        HoldObjective(create_assessor("brightness"), hold=hold)


def test_the_hold_config_builds_with_shapes_size_held():
    with initialize_config_module(version_base="1.3", config_module="ganalyze.conf"):
        cfg = compose("config", overrides=["assessor=brightness", "objective=hold"])
    objective = build_objective(cfg.objective, build_assessor(cfg.assessor))
    assert isinstance(objective, HoldObjective) and list(objective.held) == ["shapes_size"]
    assert objective.weights == {"shapes_size": 100.0}
