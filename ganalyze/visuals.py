"""Visual definitions and plots: image grids (rows = seeds, columns = α from less to more, scores written
on each image), curves of score and true factors vs α, and the training loss."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from ganalyze.evaluation import DIRECTIONS, Evaluation, slider_alpha  # noqa: E402
from ganalyze.generators.base import Generator  # noqa: E402
from ganalyze.sampling import latents_for_seeds  # noqa: E402
from ganalyze.transformers.base import Transformer  # noqa: E402

MIN_CELL = 96  # small images are enlarged (nearest neighbour) so that the score text stays readable
MARGIN = 22


def to_pil(image: torch.Tensor, size: int | None = None) -> Image.Image:
    """A (3, H, W) image in [0, 1] as a PIL image, enlarged by nearest neighbour to ``size`` if given."""
    array = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    pil = Image.fromarray(array)
    return pil.resize((size, size), Image.NEAREST) if size and size != pil.width else pil


def _font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib, so α renders) at ``size`` px."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def image_grid(images: torch.Tensor, scores: np.ndarray, alphas: Sequence[float], row_labels: Sequence[str],
               title: str = "") -> Image.Image:
    """Compose images (rows, cols, 3, H, W) into one picture: α above each column, a label left of each row,
    and each image's score written in its top-left corner."""
    rows, cols = images.shape[:2]
    cell = max(MIN_CELL, images.shape[-1])
    small, text = _font(max(10, cell // 9)), _font(12)
    left = 8 + int(max(text.getlength(label) for label in row_labels))
    top = 2 * MARGIN if title else MARGIN
    canvas = Image.new("RGB", (left + cols * cell, top + rows * cell), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 4), title, fill="black", font=text)
    for j, alpha in enumerate(alphas):
        draw.text((left + j * cell + 4, top - MARGIN + 5), f"α={alpha:+.3g}", fill="black", font=text)
    for i in range(rows):
        draw.text((4, top + i * cell + cell // 2 - 6), row_labels[i], fill="black", font=text)
        for j in range(cols):
            x, y = left + j * cell, top + i * cell
            canvas.paste(to_pil(images[i, j], cell), (x, y))
            label = f"{scores[i, j]:.3f}"
            box = draw.textbbox((x + 2, y + 1), label, font=small)
            draw.rectangle((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), fill="black")
            draw.text((x + 2, y + 1), label, fill="white", font=small)
    return canvas


@torch.no_grad()
def visual_definition(generator: Generator, transformer: Transformer, assessor: torch.nn.Module,
                      seeds: Sequence[int], alphas: Sequence[float], classes: Sequence[int] | None = None,
                      slider: int = 0) -> tuple[torch.Tensor, np.ndarray, torch.Tensor]:
    """Images (seeds, alphas, 3, H, W) of each seed pushed along the direction, their scores and class ids."""
    device = next(transformer.parameters()).device
    z, y = latents_for_seeds(generator, seeds, classes)
    z, y = z.to(device), y.to(device)
    alpha_dim = int(getattr(transformer, "alpha_dim", 1))
    columns, scores = [], []
    for value in alphas:
        images = generator(transformer(z, slider_alpha(value, len(z), alpha_dim, slider, device), y), y)
        columns.append(images.cpu())
        scores.append(assessor(images).float().cpu().numpy())
    return torch.stack(columns, dim=1), np.stack(scores, axis=1), y.cpu()


def table_rows(images: torch.Tensor, scores: np.ndarray, alphas: Sequence[float], seeds: Sequence[int],
               class_labels: Sequence[str]) -> list[list[Any]]:
    """Rows (seed, class, α, score, image) of a visual definition, for a logged table."""
    cell = max(MIN_CELL, images.shape[-1])
    return [[int(seed), class_labels[i], float(alpha), float(scores[i, j]), to_pil(images[i, j], cell)]
            for i, seed in enumerate(seeds) for j, alpha in enumerate(alphas)]


def _band(ax: Any, alphas: np.ndarray, mean: Sequence[float], std: Sequence[float], label: str) -> None:
    """A mean curve with a ±1 std band."""
    mean, std = np.asarray(mean), np.asarray(std)
    ax.plot(alphas, mean, marker="o", ms=3, label=label)
    ax.fill_between(alphas, mean - std, mean + std, alpha=0.2)


def plot_changes(evaluation: Evaluation, path: str | Path) -> Path:
    """Score change and (on the shapes world) true-factor changes vs α, trained vs random, trained range shaded."""
    groups = [g for g in evaluation.metrics["trained"] if g != "class"]
    cols = min(4, len(groups))
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    for ax, group in zip(axes.flat, groups):
        for direction in DIRECTIONS:
            m = evaluation.metrics[direction][group]
            _band(ax, evaluation.alphas, m["mean_change"], m["std_change"], direction)
        if group == "score":
            ax.plot(evaluation.alphas, evaluation.metrics["trained"]["score"]["mean_target_change"], "k--", lw=1,
                    label="target")
        ax.axvspan(*evaluation.alpha_range, color="grey", alpha=0.12, lw=0)
        ax.set(title=f"{group} (ρ={evaluation.metrics['trained'][group]['spearman']:.2f})", xlabel="α",
               ylabel=f"change of {group} from α=0")
        ax.axhline(0, color="grey", lw=0.5)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_loss(losses: Sequence[float], path: str | Path) -> Path:
    """The training loss per step with a running mean."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    steps = np.arange(len(losses))
    ax.plot(steps, losses, lw=0.5, alpha=0.5, label="loss")
    if len(losses) >= 10:
        window = max(5, len(losses) // 50)
        ax.plot(steps[window - 1:], np.convolve(losses, np.ones(window) / window, mode="valid"), label=f"mean of {window}")
    ax.set(xlabel="step", ylabel="loss", yscale="log" if min(losses, default=1) > 0 else "linear")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
