"""Saving matplotlib figures: one place that writes a PNG atomically (no half-written picture) and closes it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ganalyze.atomic import write_with

if TYPE_CHECKING:  # matplotlib loads only where a picture is drawn
    from matplotlib.figure import Figure


def save_figure(fig: "Figure", path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` as PNG through an atomic replace, then close it (figures hold memory until closed)."""
    write_with(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi))
    import matplotlib.pyplot as plt  # the caller drew the figure, so pyplot is already loaded and its backend set

    plt.close(fig)
    return Path(path)
