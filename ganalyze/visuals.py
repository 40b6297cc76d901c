"""Visual definitions and plots: image grids (rows = seeds, columns = α from less to more, scores written
on each image, the trained α range marked), curves of score and true factors vs α, and the training loss.

Every picture says what it shows: the title names what was trained (assessor or edit, generator) and what is
measured, the trained α range is marked, and bands and shaded areas are in the legend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from ganalyze.figures import save_figure  # noqa: E402
from ganalyze.evaluation import DIRECTIONS, Evaluation  # noqa: E402

MIN_CELL = 96  # small images are enlarged (nearest neighbour) so that the score text stays readable
MARGIN = 22
TRAINED_COLOUR = (214, 96, 24)  # the bar and frame over the columns inside the trained α range
FACTOR_LABELS = {  # evaluation groups as axis labels; all but "score" are measured from pixels (shapes world)
    "size": "true object size (area fraction)", "x": "true object x (fraction of width)",
    "y": "true object y (fraction of height)", "hue": "true object hue (degrees)",
    "obj_brightness": "true object brightness", "bg_brightness": "true background brightness",
}


def to_pil(image: torch.Tensor, size: int | None = None) -> Image.Image:
    """A (3, H, W) image in [0, 1] as a PIL image, enlarged by nearest neighbour to ``size`` if given."""
    array = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
    pil = Image.fromarray(array)
    return pil.resize((size, size), Image.NEAREST) if size and size != pil.width else pil


def _font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib, so α renders) at ``size`` px."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def definition_title(assessor: str, generator: str, class_label: str | None = None, trained: str | None = None,
                     rows: str = "held-out seeds") -> str:
    """A visual definition's title: what was trained (assessor, or an edit via ``trained``), on which generator,
    and what the rows are."""
    what = trained or f"more {assessor}"
    of_class = f", class {class_label}" if class_label else ""
    return f"Visual definition: {what} (generator {generator}{of_class}); rows = {rows}"


def image_grid(images: torch.Tensor, scores: np.ndarray | None, alphas: Sequence[float], row_labels: Sequence[str],
               title: str = "", trained_range: tuple[float, float] | None = None, score_label: str | None = None,
               number_format: str = ".3f") -> Image.Image:
    """Compose images (rows, cols, 3, H, W) into one picture: α above each column, a label left of each row,
    and each image's score (if given) in its top-left corner.

    ``trained_range`` (a, b) marks the columns with a ≤ α ≤ b by a coloured bar and frame, and a legend line
    under the grid says so; ``score_label`` names the number written on each image (e.g. "shapes_size score").
    """
    rows, cols = images.shape[:2]
    cell = max(MIN_CELL, images.shape[-1])
    small, text = _font(max(10, cell // 9)), _font(12)
    left = 8 + int(max(text.getlength(label) for label in row_labels))
    notes = _grid_notes(alphas, trained_range, score_label if scores is not None else None)
    top = 2 * MARGIN if title else MARGIN
    width = max(left + cols * cell, 8 + int(max([text.getlength(title)] + [text.getlength(n) for n in notes])))
    canvas = Image.new("RGB", (width, top + rows * cell + MARGIN * len(notes)), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 4), title, fill="black", font=text)
    inside = _inside(alphas, trained_range)
    for j, alpha in enumerate(alphas):
        if inside[j]:
            draw.rectangle((left + j * cell, top - 4, left + (j + 1) * cell - 1, top - 1), fill=TRAINED_COLOUR)
        draw.text((left + j * cell + 4, top - MARGIN + 3), f"α={alpha:+.3g}", fill="black", font=text)
    for i in range(rows):
        draw.text((4, top + i * cell + cell // 2 - 6), row_labels[i], fill="black", font=text)
        for j in range(cols):
            x, y = left + j * cell, top + i * cell
            canvas.paste(to_pil(images[i, j], cell), (x, y))
            if scores is not None:
                label = format(float(scores[i, j]), number_format)
                box = draw.textbbox((x + 2, y + 1), label, font=small)
                draw.rectangle((box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1), fill="black")
                draw.text((x + 2, y + 1), label, fill="white", font=small)
    if any(inside):  # a frame around the trained columns
        first, last = inside.index(True), len(inside) - 1 - inside[::-1].index(True)
        draw.rectangle((left + first * cell, top, left + (last + 1) * cell - 1, top + rows * cell - 1),
                       outline=TRAINED_COLOUR, width=2)
    for k, note in enumerate(notes):
        draw.text((4, top + rows * cell + k * MARGIN + 4), note, fill="black", font=text)
    return canvas


def _inside(alphas: Sequence[float], trained_range: tuple[float, float] | None) -> list[bool]:
    """Per column: is its α inside the trained range (all False without one)."""
    if trained_range is None:
        return [False] * len(alphas)
    low, high = trained_range
    return [low - 1e-9 <= float(a) <= high + 1e-9 for a in alphas]


def _grid_notes(alphas: Sequence[float], trained_range: tuple[float, float] | None, score_label: str | None) -> list[str]:
    """The lines under a grid: what the coloured frame marks, and what the number on each image is."""
    notes = []
    if trained_range is not None:
        low, high = trained_range
        beyond = " (columns outside it extrapolate)" if not all(_inside(alphas, trained_range)) else ""
        notes.append(f"orange frame: trained range α ∈ [{low:+.3g}, {high:+.3g}]{beyond}")
    if score_label:
        notes.append(f"number on each image: {score_label}")
    return notes


@torch.no_grad()
def sample_records(walk: Any, seeds: Sequence[int], class_labels: Sequence[str]) -> list[dict[str, Any]]:
    """One record per image of a walk (seed, class, α, whether α is inside the trained range, score, image and,
    on the shapes world, each measured factor), for a logged table a dashboard can filter by any column."""
    cell = max(MIN_CELL, walk.images.shape[-1])
    low, high = walk.trained_range or (-np.inf, np.inf)
    return [{"seed": int(seed), "class": class_labels[i], "alpha": float(alpha),
             "in_trained_range": bool(low <= alpha <= high), "score": float(walk.scores[i, j]), "image": to_pil(walk.images[i, j], cell),
             **{name: float(values[i, j]) for name, values in walk.factors.items()}}
            for i, seed in enumerate(seeds) for j, alpha in enumerate(walk.alphas)]


def _band(ax: Any, alphas: np.ndarray, mean: Sequence[float], std: Sequence[float], label: str) -> None:
    """A mean curve with a ±1 std band."""
    mean, std = np.asarray(mean), np.asarray(std)
    line, = ax.plot(alphas, mean, marker="o", ms=3, label=label)
    ax.fill_between(alphas, mean - std, mean + std, alpha=0.2, color=line.get_color())


def _group_label(group: str, assessor: str | None) -> str:
    """What a panel of plot_changes measures."""
    if group == "score":
        return f"{assessor} score" if assessor else "assessor score"
    return FACTOR_LABELS.get(group, group)


def plot_changes(evaluation: Evaluation, path: str | Path, assessor: str | None = None, generator: str | None = None,
                 trained: str | None = None) -> Path:
    """Score change and (on the shapes world) true-factor changes vs α, trained vs random, trained range shaded.

    ``assessor`` and ``generator`` name what was trained in the title; ``trained`` names an edit objective
    (e.g. "zoom"): the score panel then shows an assessor the walk was not trained on, so no target line.
    """
    groups = [g for g in evaluation.metrics["trained"] if g != "class"]
    cols = min(4, len(groups))
    rows = -(-len(groups) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 3.3 * rows + 0.9), squeeze=False)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    names = {"trained": "trained direction", "random": "random direction, same norm"}
    for ax, group in zip(axes.flat, groups):
        for direction in DIRECTIONS:
            m = evaluation.metrics[direction][group]
            _band(ax, evaluation.alphas, m["mean_change"], m["std_change"],
                  f"{names[direction]} (ρ={m['spearman']:.2f})")
        if group == "score" and trained is None:
            ax.plot(evaluation.alphas, evaluation.metrics["trained"]["score"]["mean_target_change"], "k--", lw=1,
                    label="target: change = α")
        ax.axvspan(*evaluation.alpha_range, color="grey", alpha=0.12, lw=0)
        not_trained = " (not trained on)" if group == "score" and trained is not None else ""
        ax.set_title(_group_label(group, assessor) + not_trained, fontsize=9)
        ax.set(xlabel="α", ylabel="change from α = 0")
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize=6, loc="best")
    what = trained or (f"{assessor} score" if assessor else "the assessor's score")
    on = f" of {generator}" if generator else ""
    fig.suptitle(f"Direction trained to raise {what} in the latent space{on}: mean change from α = 0 over "
                 f"{len(evaluation.seeds)} held-out seeds\n(ρ: Spearman of α against each seed's change, inside the trained range)",
                 fontsize=10)
    fig.legend(handles=[Patch(color="grey", alpha=0.25, label=f"trained α range {list(evaluation.alpha_range)}"),
                        Patch(color="0.6", alpha=0.35, label="band around each curve: ±1 std over seeds")],
               loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return save_figure(fig, path, dpi=100)


def plot_loss(losses: Sequence[float], path: str | Path, title: str = "Training loss") -> Path:
    """The training loss per step with a running mean; ``title`` should name what was trained."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    steps = np.arange(len(losses))
    ax.plot(steps, losses, lw=0.5, alpha=0.5, label="loss")
    if len(losses) >= 10:
        window = max(5, len(losses) // 50)
        ax.plot(steps[window - 1:], np.convolve(losses, np.ones(window) / window, mode="valid"), label=f"mean of {window}")
    ax.set(xlabel="step", ylabel="loss", yscale="log" if min(losses, default=1) > 0 else "linear")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)
