"""Probe the circular hue walk on the shipped generator: the fitted plane trained with the hue edit, and untrained.

    OMP_NUM_THREADS=1 python scripts/probe_hue_walk.py 0.01 300     # lr, steps; results in runs/probe/
Prints ρ(α, hue turned), the limits and the median turn per α (the table on docs/steerability_power.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ganalyze.circular_init import fit_hue_plane
from ganalyze.data_bias import FactorSpec
from ganalyze.edits import get_edit
from ganalyze.generators.shapes import SHIPPED_FOLDER, ShapesGenerator
from ganalyze.steer_power import fit_walk
from ganalyze.steerability import evaluate_steerability, save_steerability
from ganalyze.transformers import RotationTransformer


def report(name: str, generator: ShapesGenerator, walk: torch.nn.Module, folder: Path) -> None:
    """Evaluate ``walk`` over twice the trained range, save the steerability files, print the headline."""
    result = evaluate_steerability(generator, walk.eval(), get_edit("hue"), (-60.0, 60.0), num_seeds=200,
                                   batch_size=200)
    save_steerability(result, folder)
    s = result.summary["sliders"]["all"]
    print(name, "rho", round(s["spearman_rho"], 3), "limits", s["limit_low"], s["limit_high"],
          [(p["alpha"], round(p["median"], 1)) for p in s["per_alpha"]], flush=True)


def main(lr: float, steps: int) -> None:
    """Train (cached) and evaluate the fitted rotation walk, then evaluate the fit alone."""
    torch.set_num_threads(1)
    generator = ShapesGenerator.from_pretrained(SHIPPED_FOLDER).eval().requires_grad_(False)
    spec = FactorSpec("hue", "hue", 60.0, ("broad",), lr)
    out = Path(f"runs/probe/hue_rotation_init_lr{lr}_s{steps}")
    cfg = {"walk": {"steps": steps, "batch_size": 32}, "factors": {"hue": {}}}
    report("trained", generator, fit_walk(generator, spec, "rotation", list(range(6)), out, cfg, 0),
           out / "steerability")
    untrained = RotationTransformer(generator.dim_z)
    print("R2", round(fit_hue_plane(untrained, generator, list(range(6)), num=600), 3))
    report("untrained", generator, untrained, out / "untrained_steerability")


if __name__ == "__main__":
    main(float(sys.argv[1]), int(sys.argv[2]))
