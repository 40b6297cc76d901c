"""Named data sets of the world (conf/world/<name>.yaml): per-factor uniform ranges, exact statistics.

Every continuous factor is uniform on [low, high], except the centroid: it is placed at a uniform
fraction ``position`` of the band where the object fits inside the frame (that band shrinks as the
object grows), so objects never leave the image. All means and standard deviations are closed-form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping

import torch
import yaml

from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.world.factors import Factors
from ganalyze.world.render import degrade, render
from ganalyze.world.shapes import SHAPE_NAMES, extents

FRAME_MARGIN = 0.04  # gap (fraction of the width) between the object's farthest point and the frame
MIN_SIZE, MAX_SIZE = 0.04, 0.25
RANGE_KEYS = ("size", "position", "hue", "obj_brightness", "bg_brightness", "texture")
RANGE_BOUNDS = {
    "size": (MIN_SIZE, MAX_SIZE),
    "position": (0.0, 1.0),
    "hue": (0.0, 360.0),
    "obj_brightness": (0.5, 1.0),
    "bg_brightness": (0.0, 1.0),
    "texture": (0.0, 1.0),
}
RANGE_MEANING = {
    "size": "object area as a fraction of the image",
    "position": "place of the centroid inside the band where the object fits (0 = left/top, 1 = right/bottom)",
    "hue": "object hue in degrees, no wrap-around",
    "obj_brightness": "object HSV value; at least 0.5 so the object stays saturated and measurable",
    "bg_brightness": "grey level of the background",
    "texture": "amplitude of the grey background texture",
}


@dataclass(frozen=True)
class Uniform:
    """The uniform distribution on [low, high] (low == high is a constant)."""

    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def std(self) -> float:
        return (self.high - self.low) / math.sqrt(12)

    def moment(self, power: float) -> float:
        """E[u ** power] in closed form."""
        if self.high == self.low:
            return self.low**power
        p = power + 1
        return (self.high**p - self.low**p) / (p * (self.high - self.low))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.low + (self.high - self.low) * torch.rand(n, generator=generator, dtype=torch.float64)


@dataclass(frozen=True)
class Degradation:
    """The low-quality recipe: render at resolution // downscale, upsample, blur, add noise."""

    downscale: int
    blur_sigma: float
    noise_std: float


@dataclass(frozen=True)
class WorldVariant:
    """One data set of the world: which classes, and a uniform range for each factor."""

    name: str
    resolution: int
    classes: tuple[int, ...]
    size: Uniform
    position: Uniform
    hue: Uniform
    obj_brightness: Uniform
    bg_brightness: Uniform
    texture: Uniform
    degradation: Degradation | None = None
    class_weights: tuple[float, ...] | None = None  # relative frequency of each of ``classes``; None = uniform

    @staticmethod
    def from_config(cfg: Mapping[str, Any]) -> WorldVariant:
        """Build and validate a variant from a mapping (or Hydra config) shaped like conf/world/*.yaml."""
        if not isinstance(cfg, dict):
            from omegaconf import OmegaConf

            cfg = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
        return _parse_variant(dict(cfg))

    def sample_factors(self, n: int, seed: int) -> Factors:
        """Draw the factors of n images, deterministically by seed."""
        return self._draw(n, torch.Generator().manual_seed(int(seed)))

    def sample(self, n: int, seed: int, resolution: int | None = None) -> tuple[torch.Tensor, Factors]:
        """Draw factors and render them (degraded for low-quality variants): (images (n,3,R,R), factors)."""
        res = self.resolution if resolution is None else int(resolution)
        gen = torch.Generator().manual_seed(int(seed))
        factors = self._draw(n, gen)
        if self.degradation is None:
            return render(factors, res), factors
        d = self.degradation
        low = render(factors, max(8, res // d.downscale))
        return degrade(low, res, d.blur_sigma, d.noise_std, gen), factors

    def _draw(self, n: int, gen: torch.Generator) -> Factors:
        """The factors of n images from a generator, in a fixed order of draws."""
        if n < 0:
            raise ValueError(f"n must be a non-negative number of images, got {n}")
        pool = torch.tensor(self.classes, dtype=torch.long)
        if self.class_weights is None:
            class_id = pool[torch.randint(len(pool), (n,), generator=gen)]
        else:
            weights = torch.tensor(self.class_weights, dtype=torch.float64)
            class_id = pool[torch.multinomial(weights, n, replacement=True, generator=gen)] if n else pool[:0]
        size = self.size.sample(n, gen)
        left, right, up, down = shape_reach(class_id).unbind(1)
        x = _place(self.position.sample(n, gen), left, right, size)
        y = _place(self.position.sample(n, gen), up, down, size)
        drawn = {k: getattr(self, k).sample(n, gen) for k in ("hue", "obj_brightness", "bg_brightness", "texture")}
        drawn["hue"] = torch.remainder(drawn["hue"], 360.0)
        return Factors(class_id=class_id, size=size.float(), x=x.float(), y=y.float(),
                       **{k: v.float() for k, v in drawn.items()})

    def factor_stats(self) -> dict[str, tuple[float, float]]:
        """Exact (mean, std) of every continuous factor, in closed form from the config."""
        stats = {k: (getattr(self, k).mean, getattr(self, k).std)
                 for k in ("size", "hue", "obj_brightness", "bg_brightness", "texture")}
        ext = [extents(SHAPE_NAMES[c]) for c in self.classes]
        stats["x"] = _placement_stats([(e[0], e[1]) for e in ext], self.size, self.position, self.class_weights)
        stats["y"] = _placement_stats([(e[2], e[3]) for e in ext], self.size, self.position, self.class_weights)
        return {k: stats[k] for k in ("size", "x", "y", "hue", "obj_brightness", "bg_brightness", "texture")}


def shape_reach(class_id: torch.Tensor) -> torch.Tensor:
    """How far each shape reaches from its centroid (left, right, up, down, per unit sqrt(size)), (n, 4) float64."""
    return torch.tensor([extents(name) for name in SHAPE_NAMES], dtype=torch.float64)[class_id]


def _band(before: torch.Tensor, after: torch.Tensor, size: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The band where an object's centroid fits, [margin + before*r, 1 - margin - after*r], r = sqrt(size): its
    start and width."""
    r = size.sqrt()
    return FRAME_MARGIN + before * r, 1.0 - 2 * FRAME_MARGIN - (before + after) * r


def _place(t: torch.Tensor, before: torch.Tensor, after: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Centroid coordinate at fraction t of the band."""
    low, width = _band(before, after, size)
    return low + t * width


def place_in_band(centroid: torch.Tensor, before: torch.Tensor, after: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """The fraction of the band a centroid coordinate lies at: the inverse of the world's placing (outside [0, 1]
    when the object is nearer the frame than the world puts it)."""
    low, width = _band(before, after, size)
    return (centroid - low) / width


def _placement_stats(reach: list[tuple[float, float]], size: Uniform, position: Uniform,
                     weights: tuple[float, ...] | None = None) -> tuple[float, float]:
    """Mean and std of _place over classes (uniform or weighted), size and t: polynomial in sqrt(size), so closed-form."""
    er, er2 = size.moment(0.5), size.moment(1.0)
    et, et2 = position.moment(1.0), position.moment(2.0)
    shares = [1.0 / len(reach)] * len(reach) if weights is None else [w / sum(weights) for w in weights]
    m1 = m2 = 0.0
    for (before, after), share in zip(reach, shares):
        a0, a1 = FRAME_MARGIN, before  # low = a0 + a1 r
        b0, b1 = 1.0 - 2 * FRAME_MARGIN, -(before + after)  # width = b0 + b1 r; value = low + t * width
        e_low = a0 + a1 * er
        e_width = b0 + b1 * er
        e_low2 = a0 * a0 + 2 * a0 * a1 * er + a1 * a1 * er2
        e_lw = a0 * b0 + (a0 * b1 + a1 * b0) * er + a1 * b1 * er2
        e_width2 = b0 * b0 + 2 * b0 * b1 * er + b1 * b1 * er2
        m1 += share * (e_low + e_width * et)
        m2 += share * (e_low2 + 2 * e_lw * et + e_width2 * et2)
    return m1, math.sqrt(max(m2 - m1 * m1, 0.0))


def _parse_range(name: str, value: Any, variant: str) -> Uniform:
    """A {low, high} mapping inside the factor's allowed bounds, low <= high."""
    lo_ok, hi_ok = RANGE_BOUNDS[name]
    if not isinstance(value, Mapping) or set(value) != {"low", "high"}:
        raise ConfigError(f"world variant {variant!r}: {name} must be a mapping {{low: ..., high: ...}} "
                          f"({RANGE_MEANING[name]}), got {value!r}")
    try:
        low, high = float(value["low"]), float(value["high"])
    except (TypeError, ValueError):
        raise ConfigError(f"world variant {variant!r}: {name}.low and {name}.high must be numbers, got {dict(value)!r}") from None
    if low > high:
        raise ConfigError(f"world variant {variant!r}: {name}.low = {low} is greater than {name}.high = {high}; "
                          f"give low <= high ({RANGE_MEANING[name]}).")
    if low < lo_ok or high > hi_ok:
        raise ConfigError(f"world variant {variant!r}: {name} = [{low}, {high}] leaves the allowed range "
                          f"[{lo_ok}, {hi_ok}] ({RANGE_MEANING[name]}).")
    return Uniform(low, high)


def _parse_classes(value: Any, variant: str) -> tuple[int, ...]:
    """A non-empty list of shape names -> class ids; 'all' or absent means every shape."""
    if value is None or value == "all":
        return tuple(range(len(SHAPE_NAMES)))
    unknown = [v for v in value if v not in SHAPE_NAMES] if isinstance(value, (list, tuple)) else [value]
    if unknown or not value:
        raise ConfigError(f"world variant {variant!r}: classes must be a non-empty list of shape names from "
                          f"{list(SHAPE_NAMES)} (or 'all'); unknown: {unknown!r}")
    return tuple(SHAPE_NAMES.index(v) for v in value)


def _parse_class_weights(value: Any, classes: tuple[int, ...], variant: str) -> tuple[float, ...] | None:
    """None (uniform), or one non-negative number per listed class, not all zero (relative frequencies)."""
    if value is None:
        return None
    try:
        weights = tuple(float(w) for w in value)
    except (TypeError, ValueError):
        weights = ()
    if len(weights) != len(classes) or min(weights, default=-1.0) < 0 or sum(weights) <= 0:
        raise ConfigError(f"world variant {variant!r}: class_weights must be null (uniform) or a list of "
                          f"{len(classes)} non-negative numbers, one per class in {[SHAPE_NAMES[c] for c in classes]}, "
                          f"not all zero; got {value!r}")
    return weights


def _parse_degradation(value: Any, variant: str) -> Degradation | None:
    """None, or {downscale: int >= 1, blur_sigma: >= 0, noise_std: >= 0}."""
    if value is None:
        return None
    keys = {"downscale", "blur_sigma", "noise_std"}
    if not isinstance(value, Mapping) or set(value) != keys:
        raise ConfigError(f"world variant {variant!r}: degrade must be null or a mapping with keys {sorted(keys)}, got {value!r}")
    d = Degradation(int(value["downscale"]), float(value["blur_sigma"]), float(value["noise_std"]))
    if d.downscale < 1 or d.blur_sigma < 0 or d.noise_std < 0:
        raise ConfigError(f"world variant {variant!r}: degrade needs downscale >= 1, blur_sigma >= 0 and "
                          f"noise_std >= 0, got {value!r}")
    return d


def _parse_variant(cfg: dict[str, Any]) -> WorldVariant:
    """Validate every key of a variant config and build the variant."""
    name = str(cfg.get("name", "<unnamed>"))
    allowed = {"name", "resolution", "classes", "class_weights", "degrade", *RANGE_KEYS}
    unknown = sorted(set(cfg) - allowed)
    missing = sorted(set(RANGE_KEYS) - set(cfg))
    if unknown or missing:
        raise ConfigError(f"world variant {name!r}: unknown keys {unknown}, missing keys {missing}; "
                          f"a variant has keys {sorted(allowed)}.")
    resolution = cfg.get("resolution", 32)
    if not isinstance(resolution, int) or resolution < 16:
        raise ConfigError(f"world variant {name!r}: resolution must be an integer >= 16 (32 or 64), got {resolution!r}")
    ranges = {k: _parse_range(k, cfg[k], name) for k in RANGE_KEYS}
    bg, tex = ranges["bg_brightness"], ranges["texture"]
    if bg.low - tex.high / 2 < 0 or bg.high + tex.high / 2 > 1:
        raise ConfigError(f"world variant {name!r}: bg_brightness = [{bg.low}, {bg.high}] with texture up to "
                          f"{tex.high} would leave [0, 1]; keep bg_brightness within "
                          f"[texture.high / 2, 1 - texture.high / 2].")
    classes = _parse_classes(cfg.get("classes"), name)
    _check_fits(name, classes, ranges["size"])
    return WorldVariant(name=name, resolution=resolution, classes=classes,
                        degradation=_parse_degradation(cfg.get("degrade"), name),
                        class_weights=_parse_class_weights(cfg.get("class_weights"), classes, name), **ranges)


def _check_fits(name: str, classes: tuple[int, ...], size: Uniform) -> None:
    """Every class at the largest size must fit inside the frame with the margin on both sides."""
    r = math.sqrt(size.high)
    for c in classes:
        left, right, up, down = extents(SHAPE_NAMES[c])
        if 2 * FRAME_MARGIN + max(left + right, up + down) * r > 1:
            raise ConfigError(f"world variant {name!r}: size.high = {size.high} is too large for a "
                              f"{SHAPE_NAMES[c]} to fit inside the frame; lower size.high.")


def list_variants() -> list[str]:
    """Names of the shipped variants (conf/world/*.yaml), sorted."""
    folder = resources.files("ganalyze.conf") / "world"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_variant(name: str = "broad") -> WorldVariant:
    """Read and validate the shipped variant ``name`` (conf/world/<name>.yaml) or a generated one (world/families.py)."""
    from ganalyze.world.families import generated_config

    generated = generated_config(name)  # spread-s…-p…-h…-v…: a variant of a generated family
    if generated is not None:
        return WorldVariant.from_config(generated)
    known = list_variants()
    if name not in known:
        raise UnknownNameError(f"unknown world variant {name!r}; known variants: {', '.join(known)}. "
                               "Add one as conf/world/<name>.yaml, build it with WorldVariant.from_config, or name a "
                               "generated one (ganalyze.world.families, e.g. spread-s0.500-p1.000-h1.000-v1.000).")
    text = (resources.files("ganalyze.conf") / "world" / f"{name}.yaml").read_text()
    cfg = yaml.safe_load(text) or {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"world variant file {name}.yaml must hold a mapping, got {type(cfg).__name__}")
    cfg.setdefault("name", name)
    return WorldVariant.from_config(cfg)
