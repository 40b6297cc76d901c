"""How the brightness assessor (mean luma of the whole image) mixes object area in, on real shapes-world images.

Brightness is (1 - s) L_bg + s L_obj for an object of area fraction s, so resizing the object changes it by
(L_obj - L_bg) Δs. This measures L_obj - L_bg (interior pixels vs uncovered ones) and the Spearman ρ of the
score with each true factor; writes <out>/brightness_area.json.

    OMP_NUM_THREADS=1 python scripts/brightness_area.py [out=runs/brightness_area] [n=2000] [variant=broad]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from scipy.stats import spearmanr

from assessors.factors import brightness, luma
from ganalyze.world import CONTINUOUS_FACTORS, load_variant
from ganalyze.world.measure import UNCOVERED, coverage_map


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of (n, H, W) values over each image's mask."""
    return (values * mask).sum((1, 2)) / mask.sum((1, 2)).clamp_min(1)


def main(args: list[str]) -> dict:
    """Measure on ``n`` rendered images of ``variant``; print and save the summary."""
    options = {"out": "runs/brightness_area", "n": "2000", "variant": "broad", **dict(a.split("=", 1) for a in args)}
    torch.set_num_threads(1)
    images, truth = load_variant(options["variant"]).sample(int(options["n"]), seed=0)
    weights, interior, _ = coverage_map(images)
    y = luma(images)
    gap = masked_mean(y, interior.float()) - masked_mean(y, (weights < UNCOVERED).float())
    score = brightness(images)
    report = {
        "command": " ".join(["scripts/brightness_area.py", *args]), "variant": options["variant"], "n": len(images),
        "object_minus_background_luma": {"mean": gap.mean().item(), "median": gap.median().item(),
                                         "fraction_object_darker": (gap < 0).float().mean().item()},
        "spearman_with_true_factor": {k: float(spearmanr(score, getattr(truth, k)).statistic) for k in CONTINUOUS_FACTORS},
    }
    out = Path(options["out"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "brightness_area.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
