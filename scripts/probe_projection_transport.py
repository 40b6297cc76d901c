"""Where an object-centred projection model's transport goes wrong: numbers moved right, or pictures drawn wrong.

For held-out world images of a source data set projected onto a target: each pose and blur number of the projected
codes against the target's own encoded numbers (mean ± std, W1), and the measured size of the projections against
real target images, per shape class; and where the order of the hue and of the object's brightness is lost: the
rank correlation of the true factor with each colour number and with the code's own hue and value (HSV of the
drawn colour σ(c)), and of source against projection in the code (before drawing) and in pixels (after). Example:
    OMP_NUM_THREADS=1 python scripts/probe_projection_transport.py runs/projection/oc5f/model warm size_narrow
"""

from __future__ import annotations

import argparse
import json

import torch
from scipy.stats import spearmanr, wasserstein_distance

from ganalyze.projection import ProjectionModel
from ganalyze.projection.blur import blur_of
from ganalyze.projection.colour_numbers import rgb_to_hsv
from ganalyze.projection.nuisance_flow import COLOUR
from ganalyze.projection.object_centred import COLOUR_DIM, POSE_DIM, pose_of
from ganalyze.projection.report import rank_correlation
from ganalyze.world import SHAPE_NAMES, load_variant, measure


def spread(values: torch.Tensor) -> dict[str, float]:
    return {"mean": float(values.mean()), "std": float(values.std())}


@torch.no_grad()
def transport(model: ProjectionModel, source: str, target: str, n: int, seed: int) -> dict[str, object]:
    """The numbers above for ``n`` images of each data set (seeds ``seed`` and ``seed + 1``)."""
    a, b = model.labels.index(source), model.labels.index(target)
    images, _ = load_variant(source).sample(n, seed=seed, resolution=model.autoencoder.resolution)
    real, truth = load_variant(target).sample(n, seed=seed + 1, resolution=model.autoencoder.resolution)
    full = lambda label: torch.full((n,), label, dtype=torch.long)  # noqa: E731
    moved = model.flow.inverse(model.flow(model.autoencoder.encode(images), full(a))[0], full(b))
    own = model.autoencoder.encode(real)
    q = model.autoencoder.nuisance_dim - 1
    named = lambda codes: {"x": pose_of(codes[:, :POSE_DIM])[:, 0], "y": pose_of(codes[:, :POSE_DIM])[:, 1],  # noqa: E731
                           "log_scale": pose_of(codes[:, :POSE_DIM])[:, 2], "blur_sigma_px": blur_of(codes[:, q])}
    numbers = {k: {"projected": spread(v), "target_encoded": spread(named(own)[k]),
                   "w1": float(wasserstein_distance(v.numpy(), named(own)[k].numpy()))} for k, v in named(moved).items()}
    drawn = measure(model.autoencoder.decode(moved))["size"]
    source_truth = load_variant(source).sample(n, seed=seed, resolution=model.autoencoder.resolution)[1]
    by_class = {name: {"projected_size": float(drawn[source_truth.class_id == c].mean()),
                       "real_target_size": float(truth.size[truth.class_id == c].mean())}
                for c, name in enumerate(SHAPE_NAMES)}
    return {"numbers": numbers, "size": {"projected": spread(drawn), "real_target": spread(truth.size.float())},
            "size_by_class": by_class,
            "colour_order": colour_order(model, images, source_truth, model.autoencoder.encode(images), moved)}


def colour_order(model: ProjectionModel, images: torch.Tensor, truth, codes: torch.Tensor,
                 moved: torch.Tensor) -> dict[str, dict[str, float]]:
    """Spearman ρ (hue: on the circle, as the report's) of the hue and the object's brightness: the true factor
    against each colour number and the code's HSV hue / value; source against projection in the code and in pixels."""
    hsv_source, hsv_moved = rgb_to_hsv(torch.sigmoid(codes[:, COLOUR])), rgb_to_hsv(torch.sigmoid(moved[:, COLOUR]))
    pixels_source, pixels_moved = measure(images), measure(model.autoencoder.decode(moved))
    out = {}
    for factor, column, scale in (("hue", 0, 360.0), ("obj_brightness", 2, 1.0)):
        true = getattr(truth, factor).double().numpy()
        numbers = {f"true_vs_colour_number_{k}": float(spearmanr(true, codes[:, POSE_DIM + k]).statistic)
                   for k in range(COLOUR_DIM)}
        out[factor] = {**numbers, "true_vs_code": rank_correlation(factor, true, scale * hsv_source[:, column].numpy()),
                       "source_vs_projection_code": rank_correlation(factor, scale * hsv_source[:, column].numpy(),
                                                                     scale * hsv_moved[:, column].numpy()),
                       "source_vs_projection_pixels": rank_correlation(factor, pixels_source[factor].double().numpy(),
                                                                       pixels_moved[factor].double().numpy())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model folder of an object-centred projection model")
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps(transport(ProjectionModel.from_pretrained(args.model), args.source, args.target, args.images, args.seed),
                     indent=2))


if __name__ == "__main__":
    main()
