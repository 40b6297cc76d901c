"""Start a circular walk in the plane where the generator codes hue: regress the measured hue's (cos, sin) on z.

A rotation walk from a random plane first wrecks the images and learns to stand still (measured: median turn
about 1 degree at α = 60). Regressing (cos h, sin h) of the hue measured from pixels of G(z) on z gives the two
latent directions along which hue turns and the point of the plane where the circle is centred; the walk
starts there (rate: one radian per radian of hue). A class_rotation walk then gets one gain per class, so that
each class's median turn equals the request (calibrate_gains).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ganalyze.generators.base import Generator
from ganalyze.sampling import truncation_of
from ganalyze.transformers.rotation import ClassRotationTransformer, RotationTransformer
from ganalyze.world.measure import measure

FIT_SEED = 2**30 + 17  # latents of the fit: neither training steps' nor held-out evaluation seeds


@torch.no_grad()
def fit_hue_plane(walk: RotationTransformer, generator: Generator, classes: Sequence[int] | None,
                  num: int = 3000, batch_size: int = 250) -> float:
    """Set ``walk``'s plane and centre(s) from a least-squares fit of (cos, sin) of hue on z (plus an intercept per
    class for a class_rotation walk); returns the fit's R²."""
    z, y = generator.sample_latents(num, FIT_SEED, truncation_of(generator), list(classes) if classes else None)
    hue = torch.cat([measure(generator(z[i:i + batch_size], y[i:i + batch_size]).float())["hue"]
                     for i in range(0, num, batch_size)])
    target = torch.stack([torch.deg2rad(hue).cos(), torch.deg2rad(hue).sin()], 1).double()
    per_class = isinstance(walk, ClassRotationTransformer)  # an intercept per class, else one for all
    intercepts = (torch.nn.functional.one_hot(y, walk.num_classes) if per_class else torch.ones(num, 1)).double()
    design = torch.cat([z.double(), intercepts], 1)
    coef = torch.linalg.lstsq(design, target).solution  # (dim_z + intercepts, 2): directions of cos and sin
    dim_z = z.shape[1]
    walk.plane.copy_(coef[:dim_z].T.to(walk.plane))
    basis = walk.basis().double()
    in_plane = (basis @ coef[:dim_z]).T  # the fit's (cos, sin) as a linear map of in-plane coordinates
    centres = torch.linalg.solve(in_plane, -coef[dim_z:].T).T  # where the fit's (cos, sin) is 0, per intercept
    walk.centre.copy_(centres.reshape(walk.centre.shape).to(walk.centre))
    residual = ((target - design @ coef) ** 2).sum()
    return float(1 - residual / ((target - target.mean(0)) ** 2).sum())


@torch.no_grad()
def calibrate_gains(walk: ClassRotationTransformer, generator: Generator, classes: Sequence[int] | None,
                    alpha: float = 30.0, num: int = 3000, batch_size: int = 250) -> torch.Tensor:
    """Set each class's gain so that its median hue turn at ``alpha`` equals ``alpha`` (clipped to [0.2, 5]; classes
    that barely turn or were not drawn keep gain 1); returns the gains."""
    z, y = generator.sample_latents(num, FIT_SEED + 1, truncation_of(generator), list(classes) if classes else None)
    shift = torch.full((num,), float(alpha))
    turned = []
    for i in range(0, num, batch_size):
        zc, yc = z[i:i + batch_size], y[i:i + batch_size]
        before = measure(generator(zc, yc).float())["hue"]
        after = measure(generator(walk(zc, shift[i:i + batch_size], yc), yc).float())["hue"]
        turned.append(torch.remainder(after - before + 180.0, 360.0) - 180.0)
    turned = torch.cat(turned)
    gains = torch.ones(walk.num_classes)
    for c in y.unique().tolist():
        median = float(turned[y == c].median())
        if median > 1.0:
            gains[c] = min(max(alpha / median, 0.2), 5.0)
    walk.gain.copy_(gains.to(walk.gain))
    return gains
