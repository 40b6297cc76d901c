"""Range checks shared by the settings dataclasses: one-paragraph ConfigErrors naming the bad value and a right one."""

from __future__ import annotations

import math
from typing import Any

from ganalyze.errors import ConfigError


def whole(name: str, value: Any, minimum: int = 1, example: int | None = None) -> int:
    """``value`` as an int if it is a finite whole number >= ``minimum``; else a ConfigError naming ``name``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and int(value) == value
    if not ok or value < minimum:
        right = f"a whole number >= {minimum}" if minimum != 1 else "a positive whole number"
        raise ConfigError(f"{name}={value} must be {right} (e.g. {name}={example if example is not None else max(minimum, 1)}).")
    return int(value)


def number(name: str, value: Any, low: float, high: float, example: float, low_open: bool = False) -> float:
    """``value`` as a float if it is finite and in [low, high] ((low, high] with ``low_open``); else a ConfigError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > high or value < low or (low_open and value == low):
        span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ConfigError(f"{name}={value} must be a finite number in {span} (e.g. {name}={example:g}).")
    return float(value)
