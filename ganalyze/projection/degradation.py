"""Degradation consistency for the object-centred autoencoder: blur goes into the blur number, and the content
numbers (pose, colour, background, shape) read the same through blur and noise.

Why: trained on reconstruction alone, the encoder put little of low_quality's blur into its blur number
(σ 0.29 px against 0.23–0.25 for clean sets), so projections onto low_quality were drawn sharp (3.6–5.6σ off)
and low_quality images' shape numbers, drawn sharp, named another shape in 29–38% of cases. The model degrades
its own batch with a blur and a noise it chooses (it knows their sizes; it never sees the world's factors) and
learns three things from the pair (x, x'):

- the decoder draws x from x'’s content numbers and x's blur number (content read through blur and noise);
- the decoder draws the blurred x (before noise) from x's content numbers and x'’s blur number;
- the blur read from x' is the composition of x's and the applied one: the variances of the drawn kernels add,
  v(σ_x') = v(σ_x) + v(σ_a) (blur.kernel_variance; for the sampled kernels v(σ) is not σ² below about 0.6 px).

The content is asked to agree in pixels, not in numbers: asking x'’s content numbers to equal x's (x's held
fixed) made training diverge within 30 steps, with raw numbers and with pose, colour and background compared in
what they draw (measured: the codes grew about ×1.3 a step), since the numbers' scale is free.
"""

from __future__ import annotations

import torch

from ganalyze.projection.blur import blur, blur_of, kernel_variance

APPLIED_BLUR = (0.05, 1.1)  # σ in pixels of the blur applied: from none to beyond low_quality's (about 1 px in all)
APPLIED_NOISE = 0.06  # the largest noise std applied (low_quality adds 0.04)
BLUR_WEIGHT = 100.0  # weight of the blur gap (px⁴) beside the two swapped reconstructions (summed squared pixel errors)


def degrade(images: torch.Tensor, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images (N, 3, R, R) -> (blurred, blurred and noisy in [0, 1], applied σ (N,)): a Gaussian blur of σ uniform in
    APPLIED_BLUR and white noise of std uniform in [0, APPLIED_NOISE], drawn per image."""
    n, low, high = len(images), *APPLIED_BLUR
    sigma = low + (high - low) * torch.rand(n, generator=generator)
    noise_std = APPLIED_NOISE * torch.rand(n, generator=generator)
    blurred = blur(images, sigma.to(images))
    noise = torch.randn(images.shape, generator=generator).to(images)
    return blurred, (blurred + noise_std.to(images)[:, None, None, None] * noise).clamp(0.0, 1.0), sigma.to(images)


def blur_gap(clean: torch.Tensor, degraded: torch.Tensor, applied: torch.Tensor) -> torch.Tensor:
    """Blur numbers of x (N,) and of its degraded copy x' (N,) and the applied σ (N,) -> mean squared gap of
    v(σ_x') − v(σ_x) to v(σ_a) (px⁴, v the drawn kernel's variance): x' must be blurrier than x by the blur applied."""
    return (kernel_variance(blur_of(degraded)) - kernel_variance(blur_of(clean)) - kernel_variance(applied)).pow(2).mean()


def swapped(codes: torch.Tensor, other: torch.Tensor, quality: int) -> torch.Tensor:
    """``codes`` with the blur number of ``other`` (both (N, D)): content from one image, blur from another."""
    return torch.cat([codes[:, :quality], other[:, quality:quality + 1], codes[:, quality + 1:]], 1)
