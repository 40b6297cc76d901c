"""IMLE on a minority set (Li & Malik 2019; IMLE-GAN, Yu et al. 2020): every rare real example gets a generated
sample nearby.

For each real example of a designated minority set, the nearest of a pool of generated samples of its class (in
a feature space) is pulled towards it; the interpolation term asks the image of a latent between two matched
latents to match the same mix of their real examples' features, so the space between rare examples is drawn
too. Both terms are Gaussian negative log-likelihoods with the optimal shared σ, 0.5·log(mean squared feature
distance), on the scale of the σ-VAE's per-pixel loss. The minority set is one class, a factor range, or a file
of indices into a pool of real images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ganalyze.errors import ConfigError
from ganalyze.world import CONTINUOUS_FACTORS, SHAPE_NAMES, Factors


@dataclass(frozen=True)
class MinoritySpec:
    """Which real images form the minority set: one of a class name, a factor range [low, high], an index file."""

    shape: str | None = None
    factor: str | None = None
    low: float | None = None
    high: float | None = None
    indices_file: str | None = None

    def __post_init__(self) -> None:
        given = [name for name, value in (("shape", self.shape), ("factor", self.factor),
                                          ("indices_file", self.indices_file)) if value is not None]
        if len(given) != 1:
            raise ConfigError(f"imle.minority needs exactly one of shape (a class name: {', '.join(SHAPE_NAMES)}), "
                              f"factor (with low and high) or indices_file; got {given or 'none'}.")
        if self.shape is not None and self.shape not in SHAPE_NAMES:
            raise ConfigError(f"imle.minority.shape={self.shape!r} is not a shape of the world; "
                              f"use one of {', '.join(SHAPE_NAMES)}.")
        if self.factor is not None:
            if self.factor not in CONTINUOUS_FACTORS:
                raise ConfigError(f"imle.minority.factor={self.factor!r} is not a factor of the world; "
                                  f"use one of {', '.join(CONTINUOUS_FACTORS)}.")
            if self.low is None or self.high is None or not self.low < self.high:
                raise ConfigError(f"imle.minority.factor={self.factor} needs low < high (the range of the minority), "
                                  f"got low={self.low}, high={self.high}.")


def minority_mask(factors: Factors, spec: MinoritySpec) -> torch.Tensor:
    """Which of the images described by ``factors`` belong to the minority set (bool, (n,))."""
    if spec.shape is not None:
        return factors.class_id.long() == SHAPE_NAMES.index(spec.shape)
    if spec.factor is not None:
        value = getattr(factors, spec.factor).float()
        return (value >= spec.low) & (value <= spec.high)
    return indices_mask(Path(str(spec.indices_file)), len(factors))


def indices_mask(path: Path, pool_size: int) -> torch.Tensor:
    """A bool mask over a pool of ``pool_size`` real images from a text file of indices (one whole number a line)."""
    if not path.is_file():
        raise ConfigError(f"imle.minority.indices_file={path} is not a file; expected a text file with one index of "
                          f"the real pool (0..{pool_size - 1}) per line.")
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    try:
        indices = torch.tensor([int(line) for line in lines], dtype=torch.long)
    except ValueError as err:
        raise ConfigError(f"imle.minority.indices_file={path}: every line must be a whole number ({err}).") from err
    if len(indices) == 0 or int(indices.min()) < 0 or int(indices.max()) >= pool_size:
        raise ConfigError(f"imle.minority.indices_file={path} must list indices within 0..{pool_size - 1} (the real "
                          f"pool, imle.real_pool), got {len(indices)} indices"
                          + (f" from {int(indices.min())} to {int(indices.max())}." if len(indices) else "."))
    mask = torch.zeros(pool_size, dtype=torch.bool)
    mask[indices] = True
    return mask


def pixel_features(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Images (n, 3, H, W) -> area-averaged ``resolution``² pixels, flattened (n, 3·resolution²)."""
    return F.adaptive_avg_pool2d(images, resolution).flatten(1)


def nearest_generated(real: torch.Tensor, real_classes: torch.Tensor, generated: torch.Tensor,
                      generated_classes: torch.Tensor) -> torch.Tensor:
    """Index into ``generated`` of the nearest (Euclidean) sample of the same class, for every real feature row."""
    if not bool(torch.isin(real_classes, generated_classes).all()):
        raise ValueError("every real example's class needs generated samples of that class in the pool")
    distance = torch.cdist(real, generated)
    distance = distance.masked_fill(real_classes[:, None] != generated_classes[None, :], float("inf"))
    return distance.argmin(dim=1)


def gaussian_nll(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """0.5·log(mean squared difference): the per-value Gaussian NLL with the optimal shared σ (up to a constant)."""
    return 0.5 * torch.log(F.mse_loss(prediction, target) + 1e-12)


@dataclass(frozen=True)
class ImleTerms:
    """The IMLE and interpolation losses of one step, and the matched latents (for inspection and tests)."""

    imle: torch.Tensor
    interpolation: torch.Tensor
    matched: torch.Tensor


def imle_terms(decode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
               features: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, real_classes: torch.Tensor,
               pool_latents: torch.Tensor, pool_classes: torch.Tensor, mix: torch.Tensor | None,
               real_codes: torch.Tensor | None = None) -> ImleTerms:
    """IMLE and interpolation losses of real minority images against a pool of latents decoded by ``decode``.

    Without ``real_codes`` the pool is decoded without gradients and each real image's nearest generated sample
    of its class is found in ``features``; with them (an encoder's codes of the real images) the nearest pool
    latent is found in code space and the pool is never decoded, so a large pool costs nothing and a match
    already shares its example's content. Only the matched latents are decoded with gradients, and the pull is
    always in ``features``. Pairs for the interpolation term are each example and the next one of its class in
    the batch, mixed by weights ``mix`` (n,) in [0, 1]; without ``mix`` that term is 0 and nothing is decoded for it.
    """
    real_features = features(real)
    if real_codes is None:
        with torch.no_grad():
            pool_features = torch.cat([features(decode(z, y)) for z, y in zip(pool_latents.split(256),
                                                                                pool_classes.split(256))])
        matched = pool_latents[nearest_generated(real_features, real_classes, pool_features, pool_classes)]
    else:
        matched = pool_latents[nearest_generated(real_codes, real_classes, pool_latents, pool_classes)]
    imle = gaussian_nll(features(decode(matched, real_classes)), real_features)
    if mix is None:
        return ImleTerms(imle, torch.zeros(()), matched)
    partner = next_of_same_class(real_classes)
    a = mix[:, None]
    mixed = decode(a * matched + (1 - a) * matched[partner], real_classes)
    interpolation = gaussian_nll(features(mixed), a * real_features + (1 - a) * real_features[partner])
    return ImleTerms(imle, interpolation, matched)


def next_of_same_class(classes: torch.Tensor) -> torch.Tensor:
    """For each position, the index of the next example of the same class (cyclically; itself if it is alone)."""
    partner = torch.arange(len(classes))
    for c in classes.unique():
        members = torch.nonzero(classes == c).flatten()
        partner[members] = members.roll(-1)
    return partner
