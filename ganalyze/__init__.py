"""ganalyze: assessor-guided editing of generative models (GANalyze, steerability, dataset projection).

The public API (see docs/api.md): ``train``, ``load_run`` (-> ``Run``, whose ``walk`` gives a ``Walk``),
``list_assessors`` / ``create_assessor`` and ``list_generators`` / ``create_generator``. They are imported on first use, so ``import ganalyze.world`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "train": "ganalyze.api", "load_run": "ganalyze.api", "Run": "ganalyze.api", "Walk": "ganalyze.walk",
    "list_assessors": "assessors.registry", "create_assessor": "assessors.registry",
    "list_generators": "ganalyze.generators.registry", "create_generator": "ganalyze.generators.registry",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ganalyze' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
