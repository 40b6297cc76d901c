"""Generated families of world variants: many data sets whose spreads of size, position, hue and brightness differ.

A generated variant is named by its spreads, e.g. ``spread-s0.550-p0.325-h0.910-v0.100``: each factor's
uniform range keeps the broad variant's centre and takes that fraction of broad's width (s = size,
p = position (x and y), h = hue, v = object brightness), everything else as broad. The name alone
rebuilds the variant, so a generator trained on such data sets (in a subprocess) needs no files.

``latin_family`` draws N variants as a Latin hypercube: every factor's spread takes N distinct values
evenly spaced over [low, high], in a permutation chosen so that the factors' spreads are nearly
uncorrelated across data sets. Each factor thus has N distinct σ (not 6 of a one-factor-at-a-time design)
while the others vary independently of it, as the spreads of BigGAN's classes do.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from ganalyze.errors import ConfigError

PREFIX = "spread"
CODES = {"s": "size", "p": "position", "h": "hue", "v": "obj_brightness"}  # name code -> range key
FACTOR_RANGE = {"size": "size", "x": "position", "y": "position", "hue": "hue", "obj_brightness": "obj_brightness"}
_NAME = re.compile(rf"^{PREFIX}" + "".join(rf"-{c}(\d\.\d+)" for c in CODES) + "$")


def family_name(spreads: dict[str, float]) -> str:
    """The name of the variant with these spreads (range key -> fraction of broad's width, in (0, 1])."""
    for key, value in spreads.items():
        if key not in CODES.values() or not 0.0 < value <= 1.0:
            raise ConfigError(f"spread of {key!r} = {value!r}: spreads are fractions in (0, 1] of the broad variant's "
                              f"width, for keys {sorted(CODES.values())}.")
    parts = [f"-{code}{spreads.get(key, 1.0):.3f}" for code, key in CODES.items()]
    return PREFIX + "".join(parts)


def parse_name(name: str) -> dict[str, float] | None:
    """The spreads a generated variant's name encodes, or None if ``name`` is not such a name."""
    match = _NAME.match(name)
    if match is None:
        return None
    return {key: float(value) for key, value in zip(CODES.values(), match.groups())}


def generated_config(name: str) -> dict | None:
    """The variant config a generated name stands for (broad, each named range narrowed about its centre), or None."""
    spreads = parse_name(name)
    if spreads is None:
        return None
    cfg = copy.deepcopy(_broad_config())
    for key, fraction in spreads.items():
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"generated world variant {name!r}: spread {fraction} of {key} must lie in (0, 1].")
        low, high = float(cfg[key]["low"]), float(cfg[key]["high"])
        centre, half = (low + high) / 2, fraction * (high - low) / 2
        cfg[key] = {"low": round(centre - half, 6), "high": round(centre + half, 6)}
    cfg["name"] = name
    return cfg


@lru_cache(maxsize=1)
def _broad_config() -> dict:
    """conf/world/broad.yaml, read once (a generator's training loads each data set every step)."""
    return yaml.safe_load((resources.files("ganalyze.conf") / "world" / "broad.yaml").read_text())


def spread_levels(count: int, low: float, high: float) -> np.ndarray:
    """``count`` distinct spreads evenly spaced over [low, high] (fractions of broad's width)."""
    if count < 3 or not 0.0 < low < high <= 1.0:
        raise ConfigError(f"a family needs count >= 3 data sets and spreads 0 < low < high <= 1, got count={count}, "
                          f"spreads=[{low}, {high}].")
    return np.round(np.linspace(low, high, count), 3)


def latin_family(count: int, low: float, high: float, seed: int, tries: int = 200) -> list[str]:
    """N generated variants whose four spreads are permutations of the same N levels, least correlated of ``tries``."""
    levels = spread_levels(count, low, high)
    rng = np.random.default_rng(seed)
    best, best_corr = None, np.inf
    for _ in range(tries):
        design = np.stack([rng.permutation(levels) for _ in CODES], axis=1)  # (count, factors)
        corr = np.corrcoef(design, rowvar=False)
        worst = float(np.abs(corr[np.triu_indices(len(CODES), 1)]).max())
        if worst < best_corr:
            best, best_corr = design, worst
    return [family_name(dict(zip(CODES.values(), map(float, row)))) for row in best]


def design_correlation(names: Sequence[str]) -> float:
    """The largest |Pearson r| between two factors' spreads over these generated variants (0 = independent)."""
    design = np.array([[parse_name(n)[k] for k in CODES.values()] for n in names])
    corr = np.corrcoef(design, rowvar=False)
    return float(np.abs(corr[np.triu_indices(len(CODES), 1)]).max())
