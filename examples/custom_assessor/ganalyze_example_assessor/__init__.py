"""An example assessor living outside ganalyze: warmth, how much red outweighs blue in an image."""

import torch

from assessors import Assessor


class Warmth(Assessor):
    """(1 + mean(R - B) * gain) / 2, clamped to [0, 1]: 0.5 for greys, higher for warm (red/orange) images."""

    score_range = (0.0, 1.0)

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = gain

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        red, _, blue = images.unbind(1)
        return (0.5 * (1.0 + self.gain * (red - blue).mean((1, 2)))).clamp(0.0, 1.0)
