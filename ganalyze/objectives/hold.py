"""Raise one assessor while holding others: the GANalyze target for the run's assessor plus "stay as you were"
targets for named other assessors, so a direction cannot buy its score by moving what those measure.

Example: brightness (mean luma) on the shapes world rises fastest by growing a bright object over a dark
background; holding ``shapes_size`` at its α = 0 score makes the direction brighten without resizing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from assessors.registry import create_assessor
from ganalyze.errors import ConfigError
from ganalyze.objectives.score import ScoreObjective


@dataclass
class HoldTarget:
    """The raised assessor's target scores (N,) and each held assessor's α = 0 scores {name: (N,)}."""

    raised: torch.Tensor
    held: dict[str, torch.Tensor]


class HoldObjective(ScoreObjective):
    """target = clip(A(x0) + α) and H(x0) for each held H; loss = MSE(A(x1), target) + Σ w_H MSE(H(x1), H(x0)).

    ``hold`` maps registered assessor names to loss weights (> 0), e.g. ``{"shapes_size": 1.0}``; the weights
    trade the raised score's error against the held scores' drift, both in their own score units.
    """

    def __init__(self, assessor: nn.Module, hold: Mapping[str, float], clip: bool = True):
        super().__init__(assessor, clip)
        if not isinstance(hold, Mapping) or not hold:
            raise ConfigError(
                f"objective.hold must map assessor names to loss weights, e.g. {{shapes_size: 1.0}}; got {hold!r}."
            )
        bad = {name: w for name, w in hold.items() if not isinstance(w, (int, float)) or not w > 0}
        if bad:
            raise ConfigError(f"objective.hold weights must be positive numbers, got {bad}.")
        self.weights = {name: float(w) for name, w in hold.items()}
        self.held = nn.ModuleDict({name: create_assessor(name) for name in hold})

    def target(self, x0: torch.Tensor, alpha: torch.Tensor) -> HoldTarget:
        """The raised target scores and the held assessors' scores of the unedited images."""
        return HoldTarget(super().target(x0, alpha), {name: held(x0) for name, held in self.held.items()})

    def loss(self, x1: torch.Tensor, target: HoldTarget) -> torch.Tensor:
        """The score objective's MSE plus each held assessor's weighted MSE to its α = 0 scores."""
        drift = [w * F.mse_loss(self.held[name](x1), target.held[name]) for name, w in self.weights.items()]
        return super().loss(x1, target.raised) + torch.stack(drift).sum()
