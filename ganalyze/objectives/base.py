"""The Objective protocol: what the edited image G(T(z, α), y) should become, and how far it is from that.

A training step calls ``target(x0, α)`` under ``torch.no_grad()`` on the unedited images x0 = G(z, y),
then ``loss(x1, target)`` on the edited ones x1 = G(T(z, α), y), which carries the gradient to θ.
The target may be any object: a score tensor (ScoreObjective), an (image, mask) pair (EditObjective).

Several assessors at once fit the same protocol: HoldObjective (hold.py) raises one assessor while holding
others at their α = 0 scores, loss = a weighted sum of the per-assessor mean squared errors.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Objective(nn.Module):
    """Base class of training objectives.

    ``alpha_dim`` is the number of sliders α has per sample (the loop draws α of shape (N,) when it is 1,
    else (N, alpha_dim)). ``uses_assessor`` tells the builder to pass the configured assessor in.
    """

    alpha_dim: int = 1
    uses_assessor: bool = False

    def target(self, x0: torch.Tensor, alpha: torch.Tensor) -> Any:  # pragma: no cover - abstract
        """What x1 should become, computed from the unedited images (the loop runs this under no_grad)."""
        raise NotImplementedError

    def loss(self, x1: torch.Tensor, target: Any) -> torch.Tensor:  # pragma: no cover - abstract
        """A scalar distance between the edited images and the target."""
        raise NotImplementedError
