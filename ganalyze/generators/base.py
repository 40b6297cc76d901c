"""The Generator protocol every generator of the package follows (BigGAN, the shapes generator)."""

from __future__ import annotations

import torch
from torch import nn


class Generator(nn.Module):
    """A frozen class-conditional generator: ``forward(z, y)`` maps latents and class ids to images.

    Subclasses set ``dim_z``, ``num_classes`` and ``resolution``. Images are float NCHW in [0, 1];
    ``y`` is a LongTensor of class indices (one-hot encoding, if any, happens inside).
    """

    dim_z: int
    num_classes: int
    resolution: int

    def sample_latents(
        self,
        n: int,
        seed: int,
        truncation: float = 1.0,
        classes: list[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` latents from a truncated standard normal and class ids, deterministically by seed.

        ``classes`` restricts the class ids to that list (drawn uniformly); None means all classes.
        """
        if n <= 0:
            raise ValueError(f"n must be a positive number of samples, got {n}")
        if not 0.0 < truncation <= 1.0 and truncation != float("inf"):
            raise ValueError(f"truncation must be in (0, 1] (or inf for none), got {truncation}")
        gen = torch.Generator().manual_seed(int(seed))
        z = torch.randn(n, self.dim_z, generator=gen)
        if truncation != float("inf"):
            # Truncated normal by resampling: same law as scipy's truncnorm(-2t, 2t) scaled as BigGAN does.
            bound = 2.0
            bad = z.abs() > bound
            while bad.any():
                z[bad] = torch.randn(int(bad.sum()), generator=gen)
                bad = z.abs() > bound
            z = z * truncation
        pool = torch.arange(self.num_classes) if classes is None else torch.as_tensor(classes, dtype=torch.long)
        if pool.numel() == 0 or int(pool.min()) < 0 or int(pool.max()) >= self.num_classes:
            raise ValueError(f"classes must be ids in [0, {self.num_classes}), got {classes}")
        y = pool[torch.randint(len(pool), (n,), generator=gen)]
        return z, y

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError
