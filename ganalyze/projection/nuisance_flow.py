"""A conditional flow for object-centred codes: it moves the nuisance numbers per data set and keeps the shape.

Codes are [nuisance (pose, colour, background, quality) | shape] (object_centred.py). The shape numbers pass
through unchanged (z = h there, a standard normal density shared by every data set), so a projection
T⁻¹(T(h | a) | b) keeps them exactly, and the shape class can change only as far as the decoder draws one
shape differently at another place, size or colour. The nuisance numbers go through one of two flows:

- ``coupling``: dense affine couplings given the label and the shape numbers (flow.MapFlow on a 1×1 map), which
  can fit how nuisance numbers depend on each other and on the shape;
- ``monotone``: each number alone through a per-data-set increasing map, z_d = Φ⁻¹(F_{y,d}(h_d)), F a mixture
  of ``components`` Gaussians' distribution function. A projection is then, number by number, the quantile
  map F_b⁻¹ ∘ F_a (the one-dimensional optimal transport), which keeps each number's order by construction;
- ``hybrid``: the pose and quality numbers monotone, the colour and background numbers through couplings given the
  label, the shape numbers and the pose and quality numbers (measured: couplings render palettes best, monotone
  maps positions and sizes);
- ``conditional``: ``hybrid`` with the log-scale's map given the shape numbers, F_y(h | shape): how big a frame a
  data set gives an object depends on how much of its frame the shape's mask fills, so a size is moved to the
  target's sizes of that shape (still one increasing map per image: the order is kept). Measured with every pose
  and blur map given the shape, positions got worse (0.22–0.69σ against 0.11–0.16σ), so only the log-scale is.

``colour="hsv"`` (kinds monotone, hybrid, conditional) reads the object colour as hue (cut open at a seam where
few codes' hues lie), saturation and value (colour_numbers.py) and moves each of them by its own monotone map, so
a projection keeps the hue order around the circle and the object brightness's order; only the background numbers
are left to the couplings. With ``colour="rgb"`` the couplings move the three σ-RGB numbers, in which no hue
order is defined.

``size="drawn"`` (the same kinds) reads the log-scale as the drawn object's log-size, the log-scale plus half the log
of how much of its frame the shape's mask fills (object_centred.drawn_log_size; the mask is the autoencoder's, so
the flow is attached to its autoencoder, ``attach``): the size a data set holds is the drawn one, and with the frame's
log-scale a monotone map moved the frames of every shape alike while their masks fill them differently.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from ganalyze.pretrained import load_config
from ganalyze.projection.colour_numbers import emptiest_hue, from_hsv_numbers, to_hsv_numbers
from ganalyze.projection.flow import ConditionalFlow, MapFlow
from ganalyze.projection.object_centred import BACKGROUND_DIM, COLOUR_DIM, POSE_DIM, drawn_log_size, log_scale_number

FLOW_KINDS = ("coupling", "monotone", "hybrid", "conditional")
COLOUR_SPACES = ("rgb", "hsv")  # how a nuisance flow reads the object colour numbers
SIZE_READINGS = ("frame", "drawn")  # how it reads the log-scale: the frame's, or the drawn object's size
SCALE = POSE_DIM - 1  # the log-scale's place in the code
COLOUR = slice(POSE_DIM, POSE_DIM + COLOUR_DIM)
EDGE = 1e-6  # distribution values are kept inside [EDGE, 1 - EDGE], so Φ⁻¹ stays finite (a number beyond a
# mixture's reach maps to its outermost quantile, and a projection back returns that quantile, not the number)
BISECTIONS = 60  # steps of the monotone map's inverse (each halves the bracket)
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class MonotoneMarginals(nn.Module):
    """Per data set and number, an increasing map h -> z = Φ⁻¹(F(h)) with F a mixture of Gaussians' CDF; with
    ``context_dim`` > 0 the mixtures of the numbers ``given`` (indices) also move with a context (F(h | c): their
    weights, means and scales shifted by a small network of the context and the label, zero at the start)."""

    def __init__(self, num_labels: int, dim: int, components: int, context_dim: int = 0, hidden: int = 64,
                 given: tuple[int, ...] = ()):
        super().__init__()
        self.context_net, self.given = None, list(given)
        if context_dim:
            self.context_net = nn.Sequential(nn.Linear(context_dim + num_labels, hidden), nn.LeakyReLU(0.2),
                                             nn.Linear(hidden, 3 * len(self.given) * components))
            nn.init.zeros_(self.context_net[-1].weight)
            nn.init.zeros_(self.context_net[-1].bias)
        spread = torch.linspace(-2, 2, components)
        self.logits = nn.Parameter(torch.zeros(num_labels, dim, components))
        self.means = nn.Parameter(spread.repeat(num_labels, dim, 1).clone())
        self.log_scales = nn.Parameter(torch.zeros(num_labels, dim, components))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _start_from(self, h: torch.Tensor, y: torch.Tensor) -> None:
        """Data-dependent start (as ActNorm's): each data set's mixture means at quantiles of its own numbers in the
        first batch (of all numbers for a data set the batch lacks), scales at half the spread between neighbouring
        quantiles. Started on the pooled numbers, low_quality's blur-number mixture kept 16% of its weight on the
        clean sets' blur numbers, where it has no data and the components got no gradient (measured on oc5)."""
        k = self.means.shape[-1]
        levels = (torch.arange(k, dtype=h.dtype) + 0.5) / k
        for label in range(self.means.shape[0]):
            mine = h[y == label] if int((y == label).sum()) >= 2 else h
            self.means[label] = torch.quantile(mine, levels, dim=0).T  # (dim, components)
            self.log_scales[label] = (mine.std(0, keepdim=True).T / k + 1e-3).log().expand(-1, k) + math.log(2.0)
        self.initialized.fill_(True)

    def _mixture(self, y: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log weights, means and scales of the labels' mixtures (given the context): (N, dim, components) each."""
        logits, means, log_scales = self.logits[y], self.means[y], self.log_scales[y]
        if self.context_net is not None:
            onehot = F.one_hot(y, self.logits.shape[0]).to(context)
            shift = torch.zeros(len(y), 3, *logits.shape[1:], dtype=logits.dtype, device=logits.device)
            shift[:, :, self.given] = self.context_net(torch.cat([context, onehot], 1)).view(len(y), 3, len(self.given), -1)
            logits, means, log_scales = logits + shift[:, 0], means + shift[:, 1], log_scales + shift[:, 2]
        return logits.log_softmax(-1), means, log_scales.exp()

    def cdf_and_log_density(self, h: torch.Tensor, y: torch.Tensor,
                            context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """F_y(h | context) and log f_y(h | context) per number: (N, dim) each."""
        log_w, mean, scale = self._mixture(y, context)
        u = (h[..., None] - mean) / scale
        cdf = (log_w.exp() * torch.special.ndtr(u)).sum(-1)
        log_density = torch.logsumexp(log_w - 0.5 * u.pow(2) - LOG_SQRT_2PI - scale.log(), dim=-1)
        return cdf, log_density

    def forward(self, h: torch.Tensor, y: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """h (N, dim) -> (z, log|det|): z = Φ⁻¹(F(h)), log|det| = Σ log f(h) − log φ(z)."""
        if self.training and not bool(self.initialized):
            self._start_from(h, y)
        cdf, log_density = self.cdf_and_log_density(h, y, context)
        z = torch.special.ndtri(cdf.clamp(EDGE, 1 - EDGE))
        return z, (log_density - (-0.5 * z.pow(2) - LOG_SQRT_2PI)).sum(1)

    @torch.no_grad()
    def inverse(self, z: torch.Tensor, y: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """The h with Φ⁻¹(F(h)) = z, by bisection inside the mixtures' reach (an increasing F has one)."""
        target = torch.special.ndtr(z).clamp(EDGE, 1 - EDGE)
        _, mean, scale = self._mixture(y, context)
        low = (mean - 10 * scale).amin(-1)
        high = (mean + 10 * scale).amax(-1)
        for _ in range(BISECTIONS):
            mid = 0.5 * (low + high)
            below = self.cdf_and_log_density(mid, y, context)[0] < target
            low, high = torch.where(below, mid, low), torch.where(below, high, mid)
        return 0.5 * (low + high)


class NuisanceFlow(ConditionalFlow):
    """T(h | y) on codes [nuisance (nuisance_dim) | shape (shape_dim)]: the nuisance numbers through a ``kind``
    flow given the label, the shape numbers unchanged. Likelihoods, labels and saving are ConditionalFlow's."""

    def __init__(self, labels: list[str], nuisance_dim: int, shape_dim: int, kind: str = "coupling",
                 blocks: int = 8, hidden: int = 128, depth: int = 2, embed_dim: int = 8, clamp: float = 2.0,
                 components: int = 8, seed: int = 0, colour: str = "rgb", size: str = "frame"):
        nn.Module.__init__(self)  # ConditionalFlow's layers are not built: this one has its own
        if not labels or kind not in FLOW_KINDS or nuisance_dim < 2 or shape_dim < 1 or components < 1:
            raise ValueError(f"a nuisance flow needs data-set labels, kind in {FLOW_KINDS}, nuisance_dim >= 2, "
                             f"shape_dim >= 1 and components >= 1; got labels={labels}, kind={kind!r}, "
                             f"nuisance_dim={nuisance_dim}, shape_dim={shape_dim}, components={components}")
        if (colour not in COLOUR_SPACES or size not in SIZE_READINGS
                or (kind == "coupling" and (colour, size) != ("rgb", "frame"))):
            raise ValueError(f"colour={colour!r} must be one of {COLOUR_SPACES} and size={size!r} one of {SIZE_READINGS}; "
                             f"colour 'hsv' and size 'drawn' are moved by monotone maps, so they need kind monotone, "
                             f"hybrid or conditional, got kind={kind!r}")
        self.config = {"labels": list(labels), "nuisance_dim": nuisance_dim, "shape_dim": shape_dim, "kind": kind,
                       "blocks": blocks, "hidden": hidden, "depth": depth, "embed_dim": embed_dim, "clamp": clamp,
                       "components": components, "seed": seed, "colour": colour, "size": size}
        self.labels, self.kind, self.colour, self.size = list(labels), kind, colour, size
        self.frame_area = None  # size drawn: the autoencoder's shape numbers -> mask area share (attach)
        self.nuisance_dim, self.shape_dim = nuisance_dim, shape_dim
        self.shape, self.global_dim, self.dim = (0, 1, 1), nuisance_dim + shape_dim, nuisance_dim + shape_dim
        self.map_flow = None  # no spatial map
        if colour == "hsv":  # the seam of the hue circle, chosen on the first training batch (-1: not yet)
            self.register_buffer("hue_seam", torch.tensor(-1.0))
        if kind in ("hybrid", "conditional"):
            # monotone: pose, quality (and the colour's hue, saturation, value); couplings: the rest, given the label,
            # the shape and the monotone numbers; conditional: the log-scale's map also given the shape
            if nuisance_dim != POSE_DIM + COLOUR_DIM + BACKGROUND_DIM + 1:
                raise ValueError(f"a hybrid flow needs the object-centred layout of "
                                 f"{POSE_DIM + COLOUR_DIM + BACKGROUND_DIM + 1} nuisance numbers, got nuisance_dim={nuisance_dim}")
            first_coupled = POSE_DIM + (COLOUR_DIM if colour == "hsv" else 0)
            self.register_buffer("monotone", torch.tensor([*range(first_coupled), nuisance_dim - 1]), persistent=False)
            self.register_buffer("coupled", torch.arange(first_coupled, nuisance_dim - 1), persistent=False)
            self.register_buffer("in_code_order", torch.cat([self.monotone, self.coupled]).argsort(), persistent=False)
            self.nuisance = MonotoneMarginals(len(labels), first_coupled + 1, components,
                                              context_dim=shape_dim if kind == "conditional" else 0, hidden=hidden,
                                              given=(POSE_DIM - 1,))
            self.couplings = MapFlow((nuisance_dim - 1 - first_coupled, 1, 1), len(labels), blocks, hidden, depth, 1,
                                     embed_dim, clamp, False, seed, context_dim=shape_dim + first_coupled + 1)
        else:
            self.nuisance = (MapFlow((nuisance_dim, 1, 1), len(labels), blocks, hidden, depth, 1, embed_dim, clamp,
                                     False, seed, context_dim=shape_dim) if kind == "coupling"
                             else MonotoneMarginals(len(labels), nuisance_dim, components))

    def pose_context(self, shape: torch.Tensor) -> torch.Tensor | None:
        """What the log-scale's map is given: the shape numbers (kind conditional), or nothing."""
        return shape if self.kind == "conditional" else None

    def attach(self, autoencoder: nn.Module) -> None:
        """Give a size="drawn" flow its autoencoder's mask area (frame_area); kept out of the flow's weights."""
        if self.size == "drawn":
            self.frame_area = autoencoder.frame_area

    def area_of(self, shape: torch.Tensor) -> torch.Tensor:
        """The area share of its frame the mask of these shape numbers fills (size drawn)."""
        if self.frame_area is None:
            raise RuntimeError("this flow reads the drawn size (size='drawn'), which needs its autoencoder's masks; "
                               "load it with its model (ProjectionModel.from_pretrained) or call flow.attach(autoencoder).")
        return self.frame_area(shape)

    def read(self, nuisance: torch.Tensor, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The nuisance numbers as the flow moves them, and the reading's log|det|: the log-scale as the drawn
        log-size (size drawn), the colour as logits of (the hue cut open at the seam, saturation, value) (colour hsv;
        the first training batch sets the seam); unchanged and 0 otherwise."""
        logdet = nuisance.new_zeros(len(nuisance))
        if self.size == "drawn":
            log_size, logdet = drawn_log_size(nuisance[:, SCALE], self.area_of(shape))
            nuisance = torch.cat([nuisance[:, :SCALE], log_size[:, None], nuisance[:, SCALE + 1 :]], 1)
        if self.colour == "hsv":
            if self.training and float(self.hue_seam) < 0:
                self.hue_seam.fill_(emptiest_hue(nuisance[:, COLOUR].detach()))
            numbers, ld_colour = to_hsv_numbers(nuisance[:, COLOUR], self.hue_seam)
            nuisance = torch.cat([nuisance[:, : COLOUR.start], numbers, nuisance[:, COLOUR.stop :]], 1)
            logdet = logdet + ld_colour
        return nuisance, logdet

    def unread(self, nuisance: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        """The inverse of read: numbers as the flow moves them -> the code's nuisance numbers."""
        if self.colour == "hsv":
            nuisance = torch.cat([nuisance[:, : COLOUR.start], from_hsv_numbers(nuisance[:, COLOUR], self.hue_seam),
                                  nuisance[:, COLOUR.stop :]], 1)
        if self.size == "drawn":
            number = log_scale_number(nuisance[:, SCALE], self.area_of(shape))
            nuisance = torch.cat([nuisance[:, :SCALE], number[:, None], nuisance[:, SCALE + 1 :]], 1)
        return nuisance

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes h (N, dim) and labels y -> (z (N, dim), log|det ∂z/∂h|) per sample; the shape part is z's as is."""
        shape = h[:, self.nuisance_dim :]
        nuisance, logdet = self.read(h[:, : self.nuisance_dim], shape)
        if self.kind in ("hybrid", "conditional"):
            monotone = nuisance[:, self.monotone]
            z_mono, ld_mono = self.nuisance(monotone, y, self.pose_context(shape))
            z_coupled, ld_coupled = self.couplings(nuisance[:, self.coupled, None, None], y, torch.cat([shape, monotone], 1))
            # cat, not an index-put: under autocast the two parts' dtypes may differ
            z = torch.cat([z_mono, z_coupled.flatten(1)], 1)[:, self.in_code_order]
            return torch.cat([z, shape], 1), logdet + ld_mono + ld_coupled
        if self.kind == "coupling":
            z, ld = self.nuisance(nuisance[:, :, None, None], y, shape)
            z = z.flatten(1)
        else:
            z, ld = self.nuisance(nuisance, y)
        return torch.cat([z, shape], 1), logdet + ld

    def inverse(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z (N, dim) and labels y -> codes h with forward(h, y)[0] == z."""
        z_nuisance, shape = z[:, : self.nuisance_dim], z[:, self.nuisance_dim :]
        if self.kind in ("hybrid", "conditional"):
            monotone = self.nuisance.inverse(z_nuisance[:, self.monotone], y, self.pose_context(shape))
            coupled = self.couplings.inverse(z_nuisance[:, self.coupled, None, None], y,
                                             torch.cat([shape, monotone], 1)).flatten(1)
            nuisance = torch.cat([monotone, coupled], 1)[:, self.in_code_order]
        elif self.kind == "coupling":
            nuisance = self.nuisance.inverse(z_nuisance[:, :, None, None], y, shape).flatten(1)
        else:
            nuisance = self.nuisance.inverse(z_nuisance, y)
        return torch.cat([self.unread(nuisance, shape), shape], 1)


def load_flow(folder: str | os.PathLike) -> ConditionalFlow:
    """Load either flow from its folder: a nuisance flow where its config.json names nuisance_dim."""
    cls = NuisanceFlow if "nuisance_dim" in load_config(folder, "ConditionalFlow") else ConditionalFlow
    return cls.from_pretrained(folder)
