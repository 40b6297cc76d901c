"""The GANalyze objective: the assessor's score of the edited image should be A(G(z, y)) + α."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganalyze.objectives.base import Objective


class ScoreObjective(Objective):
    """target = A(x0) + α, clipped to the assessor's ``score_range`` when it has one; loss = MSE of A(x1) to it."""

    uses_assessor = True

    def __init__(self, assessor: torch.nn.Module, clip: bool = True):
        super().__init__()
        self.assessor = assessor
        self.clip = clip

    def target(self, x0: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Target scores (N,) for images x0 and one α per image ((N,) or (N, 1))."""
        alpha = alpha.reshape(len(x0))  # one slider: raises on any other shape
        target = self.assessor(x0) + alpha
        score_range = getattr(self.assessor, "score_range", None)
        if self.clip and score_range is not None:
            target = target.clamp(score_range[0], score_range[1])
        return target

    def loss(self, x1: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean squared error between the assessor's scores of x1 and the targets."""
        return F.mse_loss(self.assessor(x1), target)
