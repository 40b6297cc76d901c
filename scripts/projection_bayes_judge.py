"""The world's own judge of the projection's data sets: Bayes with the world variants' exact factor laws.

Every factor of a world variant is uniform on a range (conf/world/*.yaml), the centroid at a uniform place in the
band where the object fits, and a degraded variant is told apart by its degradation. So p(set | factors) is exact: a
product of uniform densities over the factors whose laws differ between the sets (the others, and the band's width,
are shared by every set for one image and cancel), with a flat prior over the sets.

On real images' true factors it is the ceiling of any judge trained on images (eval_projection.py's variant
classifier): its accuracy, and the mean P(set) it gives real images of each set. On the factors measured from pixels
(ganalyze.world.measure), of real images or of a direction's sweep (eval_projection.py's direction_sweep.npz), it is
a judge that no network learned: P(target | measured factors) per α. An image whose factors no set allows (a hue or
size outside every set's range) has no posterior; those are counted apart.

    python scripts/projection_bayes_judge.py --sets warm cool centered size_narrow low_quality [--judge FOLDER ...] [--out F.json]
    python scripts/projection_bayes_judge.py --sets ... --sweep runs/.../direction_sweep.npz --target cool
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from ganalyze.projection.variant_classifier import VariantClassifier
from ganalyze.world import load_variant
from ganalyze.world.measure import measure
from ganalyze.world.variants import Uniform, WorldVariant, place_in_band, shape_reach

UNIFORM_FACTORS = ("size", "hue", "obj_brightness", "bg_brightness", "texture")


def laws_that_differ(variants: list[WorldVariant]) -> list[str]:
    """The factor laws (uniform factors, 'position', 'classes') not shared by every variant: the only ones that
    tell sets apart."""
    names = [*UNIFORM_FACTORS, "position", "classes"]
    return [n for n in names if len({getattr(v, n) for v in variants}) > 1]


def log_uniform(value: torch.Tensor, law: Uniform) -> torch.Tensor:
    """log density of a uniform law at ``value`` (-inf outside; hues are in [0, 360) as the ranges are)."""
    inside = (value >= law.low - 1e-6) & (value <= law.high + 1e-6)
    width = law.high - law.low
    return torch.where(inside, -np.log(width) if width > 0 else 0.0, float("-inf"))


def places(f: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The centroid's place (0..1) in the band where the object fits, x and y: the inverse of the world's placing."""
    left, right, up, down = shape_reach(f["class_id"]).unbind(1)
    size = f["size"].clamp_min(0)  # a measured size can fall just below 0
    return place_in_band(f["x"], left, right, size), place_in_band(f["y"], up, down, size)


def log_likelihood(f: dict[str, torch.Tensor], degraded: bool, variant: WorldVariant, laws: list[str]) -> torch.Tensor:
    """log p(factors, degradedness | variant) over the differing ``laws``, (n,); ``f`` maps factor names (and
    class_id) to float64 tensors."""
    out = torch.zeros(len(f["class_id"]), dtype=torch.float64)
    for name in laws:
        if name == "position":
            px, py = places(f)
            out = out + log_uniform(px, variant.position) + log_uniform(py, variant.position)
        elif name == "classes":
            out = out + torch.where(torch.isin(f["class_id"], torch.tensor(variant.classes)),
                                    -np.log(len(variant.classes)), float("-inf"))
        else:
            out = out + log_uniform(f[name], getattr(variant, name))
    return out if (variant.degradation is not None) == degraded else torch.full_like(out, float("-inf"))


def posterior(f: dict[str, torch.Tensor], degraded: bool, variants: list[WorldVariant]) -> np.ndarray:
    """p(set | factors) over ``variants``, (n, sets); NaN rows where no set allows the factors."""
    laws = laws_that_differ(variants)
    logs = torch.stack([log_likelihood(f, degraded, v, laws) for v in variants], 1)
    allowed = torch.isfinite(logs).any(1, keepdim=True)
    return torch.where(allowed, logs.softmax(1), float("nan")).numpy()


def as_float64(factors: dict[str, torch.Tensor], class_id: torch.Tensor) -> dict[str, torch.Tensor]:
    """Factors (true or measured) as float64, with the images' true shape classes."""
    return {**{k: v.double() for k, v in factors.items()}, "class_id": class_id}


def summarise(p: np.ndarray, own: int) -> dict[str, float]:
    """Accuracy, mean P(own set), share over 0.9 among images some set allows, and the share no set allows."""
    ok = ~np.isnan(p).any(1)
    q = p[ok]
    return {"accuracy": float((q.argmax(1) == own).mean()), "mean_p_own": float(q[:, own].mean()),
            "share_p_own_over_0.9": float((q[:, own] > 0.9).mean()), "share_no_set_allows": float(1 - ok.mean())}


def real_table(names: list[str], images: int, seed: int, judges: list[str] = ()) -> dict[str, dict[str, dict[str, float]]]:
    """For real images of each set: the Bayes judge on their true factors and on their measured factors, and each
    variant classifier folder in ``judges`` (eval_projection.py's judge) on the same images."""
    variants = [load_variant(n) for n in names]
    classifiers = {folder: VariantClassifier.from_pretrained(folder) for folder in judges}
    for folder, judge in classifiers.items():
        if judge.labels != names:
            raise SystemExit(f"judge {folder} tells {judge.labels} apart, not --sets {names}")
    table: dict[str, dict[str, dict[str, float]]] = {}
    for i, v in enumerate(variants):
        pictures, factors = v.sample(images, seed=seed + i)
        table[v.name] = {kind: summarise(posterior(f, v.degradation is not None, variants), i)
                         for kind, f in (("true", as_float64(factors.as_dict(), factors.class_id)),
                                         ("measured", as_float64(measure(pictures), factors.class_id)))}
        table[v.name].update({folder: summarise(judge.probabilities(pictures).numpy(), i) for folder, judge in classifiers.items()})
    return table


def sweep_table(names: list[str], sweep: str, target: str) -> dict[str, list[float]]:
    """The Bayes judge on a direction's sweep (direction_sweep.npz: measured factors per seed and α; the shape the
    world's classifier reads, else the seed's class; images taken as clean): per α, mean P(target) among images some
    set allows, the share over 0.9, and the share no set allows."""
    data = np.load(sweep)
    classes = data["predicted_class"] if "predicted_class" in data else np.broadcast_to(data["class_id"][:, None], data["factor_x"].shape)
    f = {name[len("factor_"):]: torch.from_numpy(data[name].astype(np.float64)).flatten()
         for name in data.files if name.startswith("factor_")}
    f["class_id"] = torch.from_numpy(np.asarray(classes, dtype=np.int64)).flatten()
    p = posterior(f, False, [load_variant(n) for n in names])[:, names.index(target)].reshape(data["factor_x"].shape)
    allowed = ~np.isnan(p)
    return {"alphas": data["alphas"].tolist(),
            "mean_p_target": [float(np.nanmean(col)) if ok.any() else float("nan") for col, ok in zip(p.T, allowed.T)],
            "share_p_target_over_0.9": [float((col[ok] > 0.9).mean()) if ok.any() else float("nan") for col, ok in zip(p.T, allowed.T)],
            "share_no_set_allows": (1 - allowed.mean(0)).tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", required=True, help="world variants, the projection model's data sets")
    parser.add_argument("--images", type=int, default=5000, help="real images drawn per set")
    parser.add_argument("--seed", type=int, default=3000000)
    parser.add_argument("--sweep", default=None, help="a direction_sweep.npz of eval_projection.py to judge")
    parser.add_argument("--target", default=None, help="the data set the sweep's direction walks toward")
    parser.add_argument("--judge", nargs="*", default=[], help="variant classifier folders to judge the same real images")
    parser.add_argument("--out", default=None, help="write the result as JSON here too")
    args = parser.parse_args()
    if args.sweep and args.target not in args.sets:
        parser.error(f"--target {args.target!r} must be one of --sets {args.sets} when --sweep is given")
    result = (sweep_table(args.sets, args.sweep, args.target) if args.sweep
              else real_table(args.sets, args.images, args.seed, args.judge))
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
