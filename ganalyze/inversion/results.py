"""Write an edit's results: a strip picture per image, edits.json (settings, reconstruction reports, per-α
values) and edits.csv (one row per image and α); every file atomically."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from ganalyze.atomic import write_json, write_text, write_with
from ganalyze.inversion.edit import EditResult
from ganalyze.inversion.report import summarise
from ganalyze.inversion.strip import edit_strip


def strip_name(index: int, name: str) -> str:
    """File name of an image's strip: its position (names may repeat across folders) and its stem."""
    return f"{index:03d}_{Path(name).stem}.png"


def save_strips(result: EditResult, out_dir: Path, generator_name: str, direction_name: str,
                class_names: list[str] | None, trained_range: tuple[float, float] | None) -> list[Path]:
    """One strip per image under out_dir/strips."""
    paths = []
    for i, (name, row) in enumerate(zip(result.names, result.report)):
        label = class_names[row["class"]] if class_names else str(row["class"])
        extra = []
        if "size" in result.sweep.factors:
            predicted = result.sweep.predicted
            extra = [f"size {result.sweep.factors['size'][i, j]:.3f}" +
                     (f"\n{class_names[predicted[i, j]] if class_names else predicted[i, j]}" if predicted is not None else "")
                     for j in range(len(result.alphas))]
        image_title = f"REAL input\n{name[:18]}\nscore {row['score_image']:.3f}"
        if "size_image" in row:
            image_title += f"\nsize {row['size_image']:.3f}"
        rec_title = f"generated: inverted\nclass {label}, PSNR {row['psnr']:.1f} dB\nscore {row['score_reconstruction']:.3f}"
        if "size_reconstruction" in row:
            rec_title += f"\nsize {row['size_reconstruction']:.3f}"
        heading = (f"{name}: real image (left, green) inverted into {generator_name}, then walked along the "
                   f"{direction_name} direction; all other panels are generated")
        fig = edit_strip(result.images[i], result.inversion.reconstruction[i], result.edits[i], result.alphas,
                         result.sweep.scores[i], heading, image_title, rec_title, extra, trained_range)
        path = out_dir / "strips" / strip_name(i, name)
        write_with(path, lambda handle: fig.savefig(handle, format="png", dpi=130))
        plt.close(fig)
        paths.append(path)
    return paths


def save_tables(result: EditResult, out_dir: Path, settings: dict[str, Any], notes: list[str]) -> dict[str, Path]:
    """edits.json (settings, summary, per-image report and per-α rows) and edits.csv (the per-α rows)."""
    rows, per_image = result.rows(), len(result.alphas)
    images = [{"image": name, "note": note, "reconstruction": report, "edits": rows[i * per_image:(i + 1) * per_image]}
              for i, (name, note, report) in enumerate(zip(result.names, notes, result.report))]
    payload = {"settings": settings, "alphas": result.alphas.tolist(),
               "seconds_per_image_inversion": result.inversion.seconds_per_image,
               "reconstruction_summary": summarise(result.report), "images": images}
    paths = {"json": write_json(out_dir / "edits.json", payload)}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    paths["csv"] = write_text(out_dir / "edits.csv", buffer.getvalue())
    return paths
