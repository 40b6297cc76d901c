"""Quality report of a generator of the shapes world: class accuracy, factor distributions, coverage.

Generated and real images are judged the same way: a classifier trained on real images only tells the
class, and the pixel measurement of the world (``measure``) gives the factors. Bars (issue 2): class accuracy
≥ 95% for every class; 1-Wasserstein distance ≤ 0.2 σ_real for size, x, y and hue; every class × size-tercile
cell gets ≥ 50% of its real share of samples.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import wasserstein_distance
from PIL import Image, ImageDraw
from torchvision.utils import make_grid
from tqdm import tqdm

from ganalyze.atomic import write_json, write_with
from ganalyze.generators.base import Generator
from ganalyze.output_set import staged_outputs
from ganalyze.world import SHAPE_NAMES, load_variant, measure
from ganalyze.world.classifier import ShapeClassifier

ACCURACY_BAR = 0.95
W1_BAR = 0.2
COVERAGE_BAR = 0.5
BARRED_FACTORS = ("size", "x", "y", "hue")
REAL_SEED_OFFSET = 2 * 10**9  # the real reference sample is never a training sample of the generator or classifier


def circular_wasserstein(a_deg: np.ndarray, b_deg: np.ndarray) -> float:
    """1-Wasserstein distance (degrees) between two samples of angles on the circle of 360°.

    On the circle W1 = min_c ∫ |F_a - F_b - c| (Rabin et al. 2011); for step CDFs the best c is the
    length-weighted median of F_a - F_b over the intervals between the pooled sorted points.
    """
    a, b = np.mod(np.asarray(a_deg, float), 360.0), np.mod(np.asarray(b_deg, float), 360.0)
    points = np.sort(np.concatenate([a, b]))
    lengths = np.diff(np.append(points, points[0] + 360.0))
    diff = (np.searchsorted(np.sort(a), points, side="right") / len(a)
            - np.searchsorted(np.sort(b), points, side="right") / len(b))
    order = np.argsort(diff)
    cum = np.cumsum(lengths[order])
    shift = diff[order][np.searchsorted(cum, cum[-1] / 2)]
    return float(np.sum(lengths * np.abs(diff - shift)))


def circular_spread(deg: np.ndarray) -> float:
    """Root-mean-square angular deviation (degrees) from the circular mean: σ of hue, wrap-around aware."""
    rad = np.deg2rad(deg)
    mean = np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())
    dev = np.angle(np.exp(1j * (rad - mean)))
    return float(np.rad2deg(np.sqrt(np.mean(dev**2))))


def factor_distances(gen: dict[str, np.ndarray], real: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Per factor: W1(generated, real) in units of σ_real (hue on the circle), means, σ, and valid fractions.

    Images whose factor cannot be measured (NaN, e.g. no object found) are left out and counted;
    a factor with no measurable generated image gets a distance of None (fails its bar).
    """
    out: dict[str, dict[str, Any]] = {}
    for name in real:
        g, r = gen[name][np.isfinite(gen[name])], real[name][np.isfinite(real[name])]
        circular = name == "hue"
        sigma = circular_spread(r) if circular else float(r.std())
        if len(g) == 0:
            w1 = None
        else:
            dist = circular_wasserstein(g, r) if circular else wasserstein_distance(g, r)
            w1 = float(dist / sigma)
        out[name] = {"w1_sigma": w1, "sigma_real": sigma,
                     "mean_real": float(r.mean()), "mean_generated": float(g.mean()) if len(g) else None,
                     "std_generated": (circular_spread(g) if circular else float(g.std())) if len(g) else None,
                     "valid_real": len(r) / len(real[name]), "valid_generated": len(g) / len(gen[name])}
    return out


def size_coverage(gen_size: np.ndarray, gen_class: np.ndarray, real_size: np.ndarray, real_class: np.ndarray,
                  num_classes: int) -> dict[str, Any]:
    """Generated share / real share of every class × size-tercile cell (terciles of the real measured size)."""
    edges = np.quantile(real_size[np.isfinite(real_size)], [1 / 3, 2 / 3])

    def shares(size: np.ndarray, cls: np.ndarray) -> np.ndarray:
        tercile = np.digitize(np.nan_to_num(size, nan=-np.inf), edges)
        table = np.zeros((num_classes, 3))
        np.add.at(table, (cls, tercile), 1.0)
        return table / len(size)

    real_share, gen_share = shares(real_size, real_class), shares(gen_size, gen_class)
    ratio = np.divide(gen_share, real_share, out=np.zeros_like(gen_share), where=real_share > 0)
    return {"tercile_edges": edges.tolist(), "real_share": real_share.tolist(), "generated_share": gen_share.tolist(),
            "ratio": ratio.tolist(), "min_ratio": float(ratio[real_share > 0].min())}


def compare_samples(gen_images: torch.Tensor, gen_classes: torch.Tensor, real_images: torch.Tensor,
                    real_classes: torch.Tensor, classifier: ShapeClassifier) -> dict[str, Any]:
    """The report's numbers and pass/fail for generated images (asked for ``gen_classes``) against real ones.

    Coverage counts each generated image under the class the classifier sees in it, not the one asked for.
    """
    num_classes = classifier.num_classes
    gen_pred, real_pred = classifier.predict(gen_images), classifier.predict(real_images)
    per_class = {SHAPE_NAMES[c]: float((gen_pred[gen_classes == c] == c).float().mean()) for c in range(num_classes)
                 if (gen_classes == c).any()}
    gen_m = {k: v.numpy().astype(float) for k, v in measure(gen_images).items()}
    real_m = {k: v.numpy().astype(float) for k, v in measure(real_images).items()}
    factors = factor_distances(gen_m, real_m)
    coverage = size_coverage(gen_m["size"], gen_pred.numpy(), real_m["size"], real_classes.numpy(), num_classes)
    w1_ok = {k: factors[k]["w1_sigma"] is not None and factors[k]["w1_sigma"] <= W1_BAR for k in BARRED_FACTORS}
    every_real_class = {SHAPE_NAMES[c] for c in real_classes.unique().tolist()} <= set(per_class)
    passed = {"class_accuracy": every_real_class and min(per_class.values()) >= ACCURACY_BAR,
              **{f"w1_{k}": ok for k, ok in w1_ok.items()},
              "coverage": coverage["min_ratio"] >= COVERAGE_BAR}
    return {"class_accuracy": {"generated_per_class": per_class,
                               "generated_min": min(per_class.values()),
                               "generated_mean": float((gen_pred == gen_classes).float().mean()),
                               "real_heldout": float((real_pred == real_classes).float().mean())},
            "factors": factors, "coverage": coverage, "passed": passed, "all_passed": all(passed.values())}


@torch.no_grad()
def generate(generator: Generator, n: int, seed: int, batch_size: int = 250,
             classes: Sequence[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images with balanced classes (the i-th asks ``classes[i mod len(classes)]``, by default every class of
    the generator), latents from ``generator.sample_latents``."""
    z, _ = generator.sample_latents(n, seed)
    pool = torch.arange(generator.num_classes) if classes is None else torch.as_tensor(list(classes), dtype=torch.long)
    y = pool[torch.arange(n) % len(pool)]
    images = [generator(zb, yb).clamp(0, 1) for zb, yb in tqdm(list(zip(z.split(batch_size), y.split(batch_size))),
                                                                 desc="generating", leave=False)]
    return torch.cat(images), y


@torch.no_grad()
def save_sample_grid(generator: Generator, path: str | os.PathLike, per_class: int = 12, seed: int = 0,
                     name: str | None = None, classes: Sequence[int] | None = None) -> Path:
    """A PNG sheet of generated samples, one row per class (named at the left; ``classes``, by default all of the
    generator's), upscaled 2× (nearest), under a title saying that every image is generated and by which generator
    (``name``, else its class name)."""
    rows = list(range(generator.num_classes)) if classes is None else [int(c) for c in classes]
    z, _ = generator.sample_latents(per_class * len(rows), seed)
    y = torch.tensor(rows).repeat_interleave(per_class)
    images = torch.nn.functional.interpolate(generator(z, y).clamp(0, 1), scale_factor=2, mode="nearest")
    grid = make_grid(images, nrow=per_class, padding=2, pad_value=1.0)
    body = Image.fromarray((grid.permute(1, 2, 0) * 255).round().to(torch.uint8).cpu().numpy())
    names = getattr(generator, "class_names", None) or list(SHAPE_NAMES)[: generator.num_classes]
    names = [names[c] for c in rows]
    title = (f"Generated samples (none real) of {name or type(generator).__name__}, seed {seed}: "
             f"one row per class, {per_class} latents each")
    left, row, width = 70, images.shape[-1] + 2, 70 + body.width
    per_line = max(20, int(len(title) * (width - 8) / ImageDraw.Draw(body).textlength(title)))
    lines = textwrap.wrap(title, per_line)  # as wide as the sheet, not wider: a long title wraps
    header = 6 + 12 * len(lines)
    canvas = Image.new("RGB", (width, header + body.height), "white")
    canvas.paste(body, (left, header))
    draw = ImageDraw.Draw(canvas)
    draw.multiline_text((4, 4), "\n".join(lines), fill="black", spacing=1)
    for i, label in enumerate(names):
        draw.text((4, header + i * row + row // 2 - 5), str(label), fill="black")
    return write_with(path, lambda handle: canvas.save(handle, format="PNG"))


def quality_report(generator: Generator, num_samples: int = 3000, seed: int = 0, variant: str = "broad",
                   classifier: ShapeClassifier | None = None, out_dir: str | os.PathLike | None = None,
                   name: str | None = None) -> dict[str, Any]:
    """Judge ``generator`` against ``num_samples`` real images of ``variant``; save quality.json and samples.png
    (its title names the generator by ``name``, such as its weights' folder, so sheets of several runs stay apart)."""
    if num_samples < 3 * generator.num_classes:
        raise ValueError(f"num_samples must be at least {3 * generator.num_classes} (3 per class), got {num_samples}")
    classifier = ShapeClassifier.from_pretrained() if classifier is None else classifier
    world = load_variant(variant)
    real_images, real_factors = world.sample(num_samples, seed=REAL_SEED_OFFSET + seed)
    # asked for the variant's shapes only (a world of four shapes is not judged on the two it lacks); a generator
    # with other class ids (one per variant and shape) is asked for all of them, as before
    asked = world.classes if generator.num_classes == len(SHAPE_NAMES) else None
    gen_images, gen_classes = generate(generator, num_samples, seed, classes=asked)
    report = {"num_samples": num_samples, "seed": seed, "variant": variant,
              "bars": {"class_accuracy_min": ACCURACY_BAR, "w1_sigma_max": W1_BAR, "coverage_ratio_min": COVERAGE_BAR},
              **compare_samples(gen_images, gen_classes, real_images, real_factors.class_id.long(), classifier)}
    if out_dir is not None:
        with staged_outputs(out_dir) as stage:  # both files are replaced together or not at all
            write_json(stage / "quality.json", report)
            save_sample_grid(generator, stage / "samples.png", seed=seed, name=name, classes=asked)
    return report


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report's headline numbers as flat ``quality/...`` keys, for experiment loggers."""
    acc = report["class_accuracy"]
    metrics = {f"quality/accuracy_{k}": v for k, v in acc["generated_per_class"].items()}
    metrics.update({"quality/accuracy_min": acc["generated_min"], "quality/accuracy_real_heldout": acc["real_heldout"],
                    "quality/coverage_min_ratio": report["coverage"]["min_ratio"],
                    "quality/all_passed": float(report["all_passed"])})
    metrics.update({f"quality/w1_sigma_{k}": v["w1_sigma"] for k, v in report["factors"].items() if v["w1_sigma"] is not None})
    return metrics


def format_report(report: dict[str, Any]) -> str:
    """A short plain-text table of the report: value, bar and pass/fail of every check."""
    ok = report["passed"]
    acc = report["class_accuracy"]
    lines = [f"{'check':<28}{'value':>10}  {'bar':<10}result",
             f"{'class accuracy (min class)':<28}{acc['generated_min']:>10.3f}  {'>= 0.95':<10}{_mark(ok['class_accuracy'])}"]
    for name in BARRED_FACTORS:
        w1 = report["factors"][name]["w1_sigma"]
        value = "n/a" if w1 is None else f"{w1:.3f}"
        lines.append(f"{'W1/σ_real ' + name:<28}{value:>10}  {'<= 0.2':<10}{_mark(ok['w1_' + name])}")
    lines.append(f"{'coverage (min cell ratio)':<28}{report['coverage']['min_ratio']:>10.3f}  {'>= 0.5':<10}"
                 f"{_mark(ok['coverage'])}")
    per_class = ", ".join(f"{k} {v:.3f}" for k, v in acc["generated_per_class"].items())
    lines += [f"per class: {per_class}", f"classifier accuracy on real held-out images: {acc['real_heldout']:.3f}",
              "ALL BARS PASSED" if report["all_passed"] else "SOME BARS FAILED"]
    return "\n".join(lines)


def _mark(passed: bool) -> str:
    """'pass' or 'FAIL'."""
    return "pass" if passed else "FAIL"
