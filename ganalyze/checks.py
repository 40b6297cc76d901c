"""Number checks shared by every settings schema: what counts as a number, a finite one and a whole one, and
one-paragraph ConfigErrors naming the bad value and a right one."""

from __future__ import annotations

import math
from typing import Any

from ganalyze.errors import ConfigError


def is_number(value: Any) -> bool:
    """True for an int or float (a bool is not a number here: ``true`` for a count is a mistake)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    """True for a number that is neither NaN nor infinite."""
    return is_number(value) and math.isfinite(value)


def is_whole(value: Any) -> bool:
    """True for a finite number without a fractional part (3 and 3.0, not 3.5, nan or "3")."""
    return is_finite(value) and int(value) == value


def whole(name: str, value: Any, minimum: int = 1, example: int | None = None) -> int:
    """``value`` as an int if it is a finite whole number >= ``minimum``; else a ConfigError naming ``name``."""
    if not is_whole(value) or value < minimum:
        right = f"a whole number >= {minimum}" if minimum != 1 else "a positive whole number"
        raise ConfigError(f"{name}={value} must be {right} (e.g. {name}={example if example is not None else max(minimum, 1)}).")
    return int(value)


def number(name: str, value: Any, low: float, high: float, example: float, low_open: bool = False) -> float:
    """``value`` as a float if it is finite and in [low, high] ((low, high] with ``low_open``); else a ConfigError."""
    if not is_finite(value) or value > high or value < low or (low_open and value == low):
        span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ConfigError(f"{name}={value} must be a finite number in {span} (e.g. {name}={example:g}).")
    return float(value)
