"""An example generator living outside ganalyze: smooth colour fields, tinted by class, drawn from a latent z."""

import torch
from torch import nn
from torch.nn import functional as F

from ganalyze.generators import Generator


class ColourField(Generator):
    """sigmoid(W z + tint_y) on a 4x4 grid of RGB values, upsampled smoothly to ``resolution``; fixed random W."""

    def __init__(self, resolution: int = 32, num_classes: int = 4, dim_z: int = 16, seed: int = 0) -> None:
        super().__init__()
        self.dim_z, self.num_classes, self.resolution = dim_z, num_classes, resolution
        self.class_names = [f"tint{i}" for i in range(num_classes)]
        gen = torch.Generator().manual_seed(seed)
        self.field = nn.Linear(dim_z, 3 * 4 * 4)
        with torch.no_grad():
            self.field.weight.copy_(torch.randn(3 * 4 * 4, dim_z, generator=gen) / dim_z**0.5)
            self.field.bias.zero_()
        self.tint = nn.Embedding(num_classes, 3)
        with torch.no_grad():
            self.tint.weight.copy_(torch.randn(num_classes, 3, generator=gen))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latents (N, dim_z) and class ids (N,) -> images (N, 3, R, R) in [0, 1]."""
        logits = self.field(z).view(-1, 3, 4, 4) + self.tint(y)[:, :, None, None]
        size = (self.resolution, self.resolution)
        return torch.sigmoid(F.interpolate(logits, size=size, mode="bicubic", align_corners=False))
