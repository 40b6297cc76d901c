"""Shape geometry of the world: unit-area outlines, their signed distance functions and extents.

Every shape is defined in image-like coordinates (x right, y down) with its centroid at the origin and
an area of exactly 1, so scaling it by sqrt(size) (in image-width units) gives an object whose area is
``size`` of a square image, and whose centroid is where it is placed.
"""

from __future__ import annotations

import math

import torch

SHAPE_NAMES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross")

STAR_INNER_RATIO = 0.5  # inner/outer radius of the five-pointed star: fat enough to read at 32 px
CROSS_ARM_RATIO = 0.36  # half-width of a cross arm over its half-length


def _regular_outline(radii: list[float], start_deg: float = -90.0) -> list[tuple[float, float]]:
    """Vertices at equal angular steps from ``start_deg`` (pointing up), with the given radii in turn."""
    step = 360.0 / len(radii)
    return [
        (r * math.cos(math.radians(start_deg + i * step)), r * math.sin(math.radians(start_deg + i * step)))
        for i, r in enumerate(radii)
    ]


def _cross_outline(arm: float) -> list[tuple[float, float]]:
    """A plus sign of half-length 1 and arm half-width ``arm``, clockwise in y-down coordinates."""
    a = arm
    return [(-a, -1), (a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1), (-a, 1), (-a, a), (-1, a), (-1, -a), (-a, -a)]


def _normalise(outline: list[tuple[float, float]]) -> torch.Tensor:
    """Shift a polygon so its centroid is the origin and scale it to area 1 (shoelace formulas)."""
    v = torch.tensor(outline, dtype=torch.float64)
    x, y = v[:, 0], v[:, 1]
    xn, yn = torch.roll(x, -1), torch.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    cx = ((x + xn) * cross).sum() / (6 * area)
    cy = ((y + yn) * cross).sum() / (6 * area)
    v = (v - torch.stack([cx, cy])) / area.abs().sqrt()
    return v.float()


POLYGONS: dict[str, torch.Tensor] = {
    "square": _normalise([(-1, -1), (1, -1), (1, 1), (-1, 1)]),
    "triangle": _normalise(_regular_outline([1.0, 1.0, 1.0])),
    "diamond": _normalise(_regular_outline([1.0, 1.0, 1.0, 1.0])),
    "star": _normalise(_regular_outline([1.0, STAR_INNER_RATIO] * 5)),
    "cross": _normalise(_cross_outline(CROSS_ARM_RATIO)),
}
CIRCLE_RADIUS = 1.0 / math.sqrt(math.pi)


def extents(name: str) -> tuple[float, float, float, float]:
    """How far a unit-area shape reaches from its centroid: (left, right, up, down)."""
    if name == "circle":
        return (CIRCLE_RADIUS,) * 4
    v = POLYGONS[name].double()
    return (-float(v[:, 0].min()), float(v[:, 0].max()), -float(v[:, 1].min()), float(v[:, 1].max()))


def polygon_sdf(px: torch.Tensor, py: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """Exact signed distance (negative inside) from points (px, py) to a closed polygon (K, 2)."""
    vx, vy = verts[:, 0], verts[:, 1]
    ex, ey = torch.roll(vx, -1) - vx, torch.roll(vy, -1) - vy
    wx, wy = px.unsqueeze(-1) - vx, py.unsqueeze(-1) - vy
    t = ((wx * ex + wy * ey) / (ex * ex + ey * ey)).clamp(0.0, 1.0)
    bx, by = wx - ex * t, wy - ey * t
    dist = (bx * bx + by * by).amin(-1).sqrt()
    # Even-odd rule along a ray to +x: an edge counts when it straddles the point's y and lies to its right.
    straddles = (vy > py.unsqueeze(-1)) != (torch.roll(vy, -1) > py.unsqueeze(-1))
    safe_ey = torch.where(ey == 0, torch.ones_like(ey), ey)
    x_cross = vx + wy * ex / safe_ey
    inside = (straddles & (px.unsqueeze(-1) < x_cross)).sum(-1) % 2 == 1
    return torch.where(inside, -dist, dist)


def radii(name: str) -> tuple[float, float]:
    """Radii of the largest circle inside and the smallest circle around the shape, both about its centroid."""
    if name == "circle":
        return CIRCLE_RADIUS, CIRCLE_RADIUS
    verts = POLYGONS[name]
    inner = -float(polygon_sdf(torch.zeros(1), torch.zeros(1), verts))
    return inner, float(verts.norm(dim=1).max())


RADII: dict[str, tuple[float, float]] = {name: radii(name) for name in SHAPE_NAMES}


def shape_sdf(name: str, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Signed distance to the unit-area shape ``name`` at points given relative to its centroid."""
    if name == "circle":
        return torch.sqrt(px * px + py * py) - CIRCLE_RADIUS
    return polygon_sdf(px, py, POLYGONS[name])


def banded_sdf(name: str, px: torch.Tensor, py: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
    """shape_sdf where it may be within ``band`` (broadcast against the points) of the outline, computed
    only there; elsewhere +inf or -inf (outside / inside), settled by the inner and outer circles."""
    inner, outer = RADII[name]
    band = band.expand_as(px)
    r = torch.sqrt(px * px + py * py)
    out = torch.where(r >= outer + band, math.inf, -math.inf)
    near = (r > inner - band) & (r < outer + band)
    out[near] = shape_sdf(name, px[near], py[near])
    return out
