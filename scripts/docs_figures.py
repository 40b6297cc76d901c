"""Redraw a run's evaluation pictures with every label the plotting functions take (titles naming the assessor or
edit and the generator, class names on rows, the trained α range framed): how docs/figure_*.png were made.

    OMP_NUM_THREADS=1 python scripts/docs_figures.py <run folder> <out folder> [generator name] [edit name]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from omegaconf import OmegaConf

from ganalyze.build import build_assessor, build_generator
from ganalyze.transformers import load_transformer
from ganalyze.visuals import definition_title, image_grid, plot_changes, visual_definition
from ganalyze.world import SHAPE_NAMES


def main(run: Path, out: Path, generator_name: str = "shapes", edit: str | None = None) -> None:
    """Write changes_vs_alpha.png and visual_definition.png (8 held-out seeds) of ``run`` into ``out``."""
    torch.set_num_threads(1)
    cfg = OmegaConf.load(run / "config.yaml")
    saved = json.loads((run / "eval" / "metrics.json").read_text())
    evaluation = SimpleNamespace(metrics=saved["metrics"], alphas=np.array(saved["alphas"]),
                                 alpha_range=tuple(saved["alpha_range"]), seeds=range(saved["num_seeds"]))
    assessor_name = str(cfg.assessor.name)
    plot_changes(evaluation, out / "changes_vs_alpha.png", assessor=assessor_name, generator=generator_name, trained=edit)
    generator, assessor = build_generator(cfg.generator).eval(), build_assessor(cfg.assessor).eval()
    images, scores, ys = visual_definition(generator, load_transformer(run / "transformer"), assessor, range(8),
                                           evaluation.alphas)
    names = getattr(generator, "class_names", None) or SHAPE_NAMES
    image_grid(images, scores, evaluation.alphas, [f"#{i} {names[int(c)]}" for i, c in enumerate(ys)],
               definition_title(assessor_name, generator_name, trained=edit), trained_range=evaluation.alpha_range,
               score_label=f"{assessor_name} score of the image").save(out / "visual_definition.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:])
