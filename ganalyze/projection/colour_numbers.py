"""The object colour of an object-centred code as hue, saturation and value: a fixed bijection with its log-determinant.

The object-centred code holds the object colour as three numbers c with RGB = σ(c) (object_centred.colour_of).
A hue is monotone in none of them (warm hues rise in green, cool ones fall in it), so no flow that moves the
numbers one by one keeps the hue order, and couplings, which fit palettes, scramble it. Read instead as

    logit u, u = (h − seam) mod 1   the HSV hue in turns, the circle cut open at ``seam``
    logit s, logit v                the HSV saturation and value (the object's brightness)

each number means one thing, so a per-number increasing map (nuisance_flow.MonotoneMarginals) moves the hue along
the circle in order and the brightness in order. ``seam`` is chosen where few codes' hues lie (``emptiest_hue``),
so the cut splits no data set's palette; the logit keeps a moved hue from crossing the seam (with u itself, the
mixtures' tails reached past 0 and 1 and wrapped round: warm -> centered kept the hue order with ρ 0.91 in the
code, 1.00 with the logit).

log|det ∂(logit u, logit s, logit v)/∂c| = Σ log σ′(c) − log 6 − log s − 2 log v − Σ log x(1−x) over x = u, s, v:
RGB -> HSV is triangular in (max, min, middle channel) with diagonal 1, −1/v and 1/(6 (max − min)) = 1/(6 s v).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ganalyze.world.render import hsv_to_rgb

EPS = 1e-6  # saturation, value and RGB are kept inside [EPS, 1 − EPS], so logits and logs stay finite
HUE_BINS = 36  # bins of the pooled hue histogram whose emptiest middle is the seam


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (N, 3) -> (N, 3): hue in turns [0, 1), saturation, value (hue 0 where grey)."""
    value, top = rgb.max(1)
    chroma = value - rgb.min(1).values
    r, g, b = rgb.unbind(1)
    safe = chroma.clamp_min(EPS)
    sector = torch.stack([torch.remainder((g - b) / safe, 6.0), (b - r) / safe + 2.0, (r - g) / safe + 4.0], 1)
    hue = torch.where(chroma > 0, sector.gather(1, top[:, None])[:, 0] / 6.0, torch.zeros_like(value))
    return torch.stack([hue, chroma / value.clamp_min(EPS), value], 1)


def emptiest_hue(colour: torch.Tensor) -> float:
    """The middle (turns) of the HUE_BINS-th of the circle where the fewest of these colour numbers' hues lie."""
    hue = rgb_to_hsv(torch.sigmoid(colour))[:, 0]
    counts = torch.bincount((hue * HUE_BINS).long().clamp(0, HUE_BINS - 1), minlength=HUE_BINS)
    return (int(counts.argmin()) + 0.5) / HUE_BINS


def to_hsv_numbers(colour: torch.Tensor, seam: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour numbers c (N, 3) -> ((logit u, logit s, logit v) (N, 3), log|det| (N,)) as in the module's docstring,
    in float32 at least (in bf16, 1 − EPS is 1 and its logit infinite: direction training under autocast got NaN)."""
    colour = colour.float() if colour.dtype in (torch.float16, torch.bfloat16) else colour
    hue, saturation, value = rgb_to_hsv(torch.sigmoid(colour)).unbind(1)
    unit = torch.stack([torch.remainder(hue - seam, 1.0), saturation, value], 1).clamp(EPS, 1 - EPS)
    logdet = ((F.logsigmoid(colour) + F.logsigmoid(-colour)).sum(1) - math.log(6.0) - unit[:, 1].log()
              - 2 * unit[:, 2].log() - (unit * (1 - unit)).log().sum(1))
    return torch.logit(unit), logdet


def from_hsv_numbers(numbers: torch.Tensor, seam: float | torch.Tensor) -> torch.Tensor:
    """(logit u, logit s, logit v) (N, 3) -> colour numbers c (N, 3), the inverse of to_hsv_numbers."""
    numbers = numbers.float() if numbers.dtype in (torch.float16, torch.bfloat16) else numbers
    hue = torch.remainder(torch.sigmoid(numbers[:, 0]) + seam, 1.0)
    rgb = hsv_to_rgb(360.0 * hue, torch.sigmoid(numbers[:, 1]), torch.sigmoid(numbers[:, 2]))
    return torch.logit(rgb.clamp(EPS, 1 - EPS))
