"""The object-centred autoencoder's blur: a Gaussian of σ pixels per image, differentiable in σ, and the number that
names σ (shared by the decoder and the degradation-consistency loss)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

BLUR_RADIUS = 3  # Gaussian kernel half-width in pixels (σ up to about 1.2 px)
MIN_BLUR, MAX_BLUR, START_BLUR = 0.05, 1.5, 0.5  # σ in pixels: the sharpest and bluntest drawn, and where the encoder starts


def blur_of(number: torch.Tensor) -> torch.Tensor:
    """The quality number (N,) -> the blur σ in pixels, in (MIN_BLUR, MAX_BLUR)."""
    return MIN_BLUR + (MAX_BLUR - MIN_BLUR) * torch.sigmoid(number)


def taps_and_kernel(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's tap offsets (2·BLUR_RADIUS + 1,) and its normalised weights per σ (N, taps)."""
    taps = torch.arange(-BLUR_RADIUS, BLUR_RADIUS + 1, dtype=sigma.dtype, device=sigma.device)
    kernel = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
    return taps, kernel / kernel.sum(1, keepdim=True)


def kernel_variance(sigma: torch.Tensor) -> torch.Tensor:
    """The variance (px²) of the sampled kernel of σ (N,): what composes exactly (variances add under convolution).
    It is below σ² for small σ (0.0077 for σ 0.3: the taps sit at whole pixels) and about σ² from 0.6 px on."""
    taps, kernel = taps_and_kernel(sigma)
    return (kernel * taps.pow(2)).sum(1)


def blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A separable Gaussian blur of σ pixels per image (N,), differentiable in σ and the images; reflected borders."""
    n, c, h, w = images.shape
    kernel = taps_and_kernel(sigma.to(images))[1].repeat_interleave(c, 0)  # (N·C, taps)
    x = F.pad(images.reshape(1, n * c, h, w), (BLUR_RADIUS,) * 4, mode="reflect")
    x = F.conv2d(x, kernel.view(n * c, 1, 1, -1), groups=n * c)
    x = F.conv2d(x, kernel.view(n * c, 1, -1, 1), groups=n * c)
    return x.reshape(n, c, h, w)
