"""The picture of one edited image: real input | its reconstruction | the edits at each α, every panel titled
with what it is (real or generated), its assessor score and, on the shapes world, its measured size and class."""

from __future__ import annotations

import textwrap

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _show(ax: plt.Axes, image: torch.Tensor, title: str, colour: str = "black") -> None:
    """One panel: the image (nearest-neighbour, no axes) under its title."""
    ax.imshow(image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
    ax.set_title(title, fontsize=7, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_row(axes: Sequence[plt.Axes], image: torch.Tensor, reconstruction: torch.Tensor, edits: torch.Tensor,
             alphas: np.ndarray, scores: np.ndarray, image_title: str, reconstruction_title: str,
             extra: Sequence[str], trained_range: tuple[float, float] | None) -> None:
    """Fill 2 + A panels; α outside ``trained_range`` is marked as extrapolated (in red)."""
    _show(axes[0], image, image_title, "darkgreen")
    _show(axes[1], reconstruction, reconstruction_title)
    for j, alpha in enumerate(alphas):
        outside = trained_range is not None and not trained_range[0] - 1e-12 <= alpha <= trained_range[1] + 1e-12
        note = " (beyond\ntrained range)" if outside else " (= reconstr.)" if alpha == 0 else ""
        lines = [f"edit α={alpha:+.3g}{note}", f"score {scores[j]:.3f}"]
        _show(axes[2 + j], edits[j], "\n".join(lines + ([extra[j]] if extra else [])), "firebrick" if outside else "black")


def edit_strip(image: torch.Tensor, reconstruction: torch.Tensor, edits: torch.Tensor, alphas: np.ndarray,
               scores: np.ndarray, heading: str, image_title: str, reconstruction_title: str,
               extra: Sequence[str], trained_range: tuple[float, float] | None) -> Figure:
    """A one-row figure of draw_row under ``heading``."""
    cols = 2 + len(alphas)
    fig, axes = plt.subplots(1, cols, figsize=(1.35 * cols, 2.3))
    draw_row(axes, image, reconstruction, edits, alphas, scores, image_title, reconstruction_title, extra, trained_range)
    fig.suptitle(textwrap.fill(heading, 16 * cols), fontsize=8)
    fig.tight_layout()
    return fig
