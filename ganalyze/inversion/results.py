"""Write an edit's results: a strip picture per image, edits.json (settings, reconstruction reports, per-α
values) and edits.csv (one row per image and α); every file atomically."""

from __future__ import annotations

import textwrap

import csv
import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from ganalyze.atomic import write_json, write_text
from ganalyze.figures import save_figure
from ganalyze.inversion.edit import EditResult
from ganalyze.inversion.report import summarise
from ganalyze.inversion.strip import draw_row, edit_strip


def strip_name(index: int, name: str) -> str:
    """File name of an image's strip: its position (names may repeat across folders) and its stem."""
    return f"{index:03d}_{Path(name).stem}.png"


def panel_titles(result: EditResult, i: int, class_names: list[str] | None) -> tuple[str, str, list[str]]:
    """Titles of image i's panels: the real input, its reconstruction, and the extra line under each edit."""
    row = result.report[i]
    name_of = (lambda c: class_names[int(c)]) if class_names else str
    extra = []
    if "size" in result.sweep.factors:
        predicted = result.sweep.predicted
        extra = [f"size {result.sweep.factors['size'][i, j]:.3f}" +
                 (f"\n{name_of(predicted[i, j])}" if predicted is not None else "") for j in range(len(result.alphas))]
    image_title = f"REAL input\n{result.names[i][:18]}\nscore {row['score_image']:.3f}"
    rec_title = (f"generated: inverted\nclass {name_of(row['class'])}, PSNR {row['psnr']:.1f} dB\n"
                 f"score {row['score_reconstruction']:.3f}")
    if "size_image" in row:
        image_title += f"\nsize {row['size_image']:.3f}"
        rec_title += f"\nsize {row['size_reconstruction']:.3f}"
    return image_title, rec_title, extra


def save_strips(result: EditResult, out_dir: Path, generator_name: str, direction_name: str,
                class_names: list[str] | None, trained_range: tuple[float, float] | None) -> list[Path]:
    """One strip per image under out_dir/strips."""
    paths = []
    for i, name in enumerate(result.names):
        heading = (f"{name}: real image (left, green) inverted into {generator_name}, then walked along the "
                   f"{direction_name} direction; all other panels are generated")
        fig = edit_strip(result.images[i], result.inversion.reconstruction[i], result.edits[i], result.alphas,
                         result.sweep.scores[i], heading, *panel_titles(result, i, class_names), trained_range)
        paths.append(save_figure(fig, out_dir / "strips" / strip_name(i, name), dpi=130))
    return paths


def save_examples(result: EditResult, indices: list[int], path: Path, heading: str, class_names: list[str] | None,
                  trained_range: tuple[float, float] | None) -> Path:
    """Several images' strips as the rows of one picture."""
    cols = 2 + len(result.alphas)
    fig, axes = plt.subplots(len(indices), cols, figsize=(1.35 * cols, 2.2 * len(indices)), squeeze=False)
    for row, i in enumerate(indices):
        draw_row(axes[row], result.images[i], result.inversion.reconstruction[i], result.edits[i], result.alphas,
                 result.sweep.scores[i], *panel_titles(result, i, class_names), trained_range)
    fig.suptitle(textwrap.fill(heading, 14 * cols), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def save_tables(result: EditResult, out_dir: Path, settings: dict[str, Any]) -> dict[str, Path]:
    """edits.json (settings, summary, per-image report and per-α rows) and edits.csv (the per-α rows)."""
    rows, per_image = result.rows(), len(result.alphas)
    images = [{"image": name, "note": note, "reconstruction": report, "edits": rows[i * per_image:(i + 1) * per_image]}
              for i, (name, note, report) in enumerate(zip(result.names, result.notes, result.report))]
    payload = {"settings": settings, "alphas": result.alphas.tolist(),
               "seconds_per_image_inversion": result.inversion.seconds_per_image,
               "cpu_seconds_per_image_inversion": result.inversion.cpu_seconds_per_image,
               "reconstruction_summary": summarise(result.report), "images": images}
    paths = {"json": write_json(out_dir / "edits.json", payload)}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    paths["csv"] = write_text(out_dir / "edits.csv", buffer.getvalue())
    return paths
