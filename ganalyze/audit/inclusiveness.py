"""How inclusive is a generator of its data? Per attribute value: rates, precision and recall, and mode coverage.

Data and generated images are judged the same way: the shape classifier (trained on real images only) names
the class, the pixel measurement (ganalyze.world.measure) gives hue and size, binned (six 60° hue bins, size
terciles of the data). Per attribute value v (a class, a hue bin, a size tercile):

- the data's rate and the generator's rate of v;
- precision and recall in a feature space, with k-NN manifolds (Kynkäänniemi et al. 2019, "Improved precision
  and recall metric for assessing generative models"): each sample's manifold ball reaches its k-th nearest
  neighbour in its own set; precision is the share of generated images of v inside the union of the balls of
  the data's images of v, recall the share of the data's images of v inside the generated images' balls.
  Features: the classifier's pooled last-layer activations (as the paper uses a trained network's features);
- mode coverage (as IMLE-GAN's Stacked-MNIST count): the data's modes are the class x hue bin x size tercile
  cells holding at least ``min_mode_count`` data images; a mode is covered when at least one of the M
  generated images falls in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganalyze.audit.disparity import HUE_BINS, HUE_NAMES
from ganalyze.audit.intervals import binomial_interval
from ganalyze.audit.sources import ImageSet
from ganalyze.errors import ConfigError
from ganalyze.world import SHAPE_NAMES
from ganalyze.world.classifier import ShapeClassifier
from ganalyze.world.measure import measure

SIZE_NAMES = ("small", "medium", "large")


@dataclass(frozen=True)
class InclusivenessSettings:
    """k of the k-NN manifolds, the smallest data count of a mode, and the batch size of feature extraction."""

    k: int = 3
    min_mode_count: int = 3
    batch_size: int = 500


@torch.no_grad()
def classify_and_embed(classifier: ShapeClassifier, images: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class ids (n,) and the classifier's pooled last-layer features (n, d) of images in [0, 1]."""
    classes, features = [], []
    for chunk in images.split(batch_size):
        if chunk.shape[-2:] != (classifier.resolution, classifier.resolution):
            chunk = torch.nn.functional.interpolate(chunk, size=(classifier.resolution,) * 2, mode="bilinear",
                                                    antialias=True, align_corners=False)
        pooled = classifier.features(chunk * 2 - 1).mean(dim=(2, 3))
        classes.append(classifier.head(pooled).argmax(1))
        features.append(pooled)
    return torch.cat(classes).numpy(), torch.cat(features).double().numpy()


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest neighbour in the same set (itself left out)."""
    x = torch.as_tensor(features)
    k = min(k, len(x) - 1)
    if k < 1:
        return np.zeros(len(x))
    radii = [torch.cdist(chunk, x).kthvalue(k + 1, dim=1).values for chunk in x.split(1024)]
    return torch.cat(radii).numpy()


def inside_manifold(points: np.ndarray, support: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each point lies within the k-NN ball of at least one support point: (n,) booleans."""
    if not len(support) or not len(points):
        return np.zeros(len(points), dtype=bool)
    s, r = torch.as_tensor(support), torch.as_tensor(radii)
    hits = [(torch.cdist(chunk, s) <= r).any(1) for chunk in torch.as_tensor(points).split(1024)]
    return torch.cat(hits).numpy()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, Any]:
    """k-NN precision and recall (Kynkäänniemi et al. 2019) with exact binomial intervals; None where a set is empty."""
    out: dict[str, Any] = {"precision": None, "precision_interval": None, "recall": None, "recall_interval": None}
    if len(fake) and len(real) >= 2:
        hits = inside_manifold(fake, real, knn_radii(real, k))
        out["precision"], out["precision_interval"] = float(hits.mean()), list(binomial_interval(int(hits.sum()), len(hits)))
    if len(real):
        hits = inside_manifold(real, fake, knn_radii(fake, k)) if len(fake) >= 2 else np.zeros(len(real), dtype=bool)
        out["recall"], out["recall_interval"] = float(hits.mean()), list(binomial_interval(int(hits.sum()), len(hits)))
    return out


@dataclass
class Judged:
    """What the judge sees in a set of images: class, hue bin, size tercile, features."""

    classes: np.ndarray
    hue_bin: np.ndarray
    size_bin: np.ndarray
    features: np.ndarray


def judge(images: torch.Tensor, classifier: ShapeClassifier, size_edges: np.ndarray, batch_size: int) -> Judged:
    """Class (classifier), hue bin and size tercile (measured from pixels) and features of every image."""
    classes, features = classify_and_embed(classifier, images, batch_size)
    m = measure(images)
    hue_bin = np.clip(np.digitize(m["hue"].numpy(), HUE_BINS[1:-1]), 0, len(HUE_NAMES) - 1)
    return Judged(classes, hue_bin, np.digitize(m["size"].numpy(), size_edges), features)


def attribute_table(data: Judged, gen: Judged, k: int) -> list[dict[str, Any]]:
    """One row per attribute value: rates of data and generator (with intervals), precision and recall."""
    rows = []
    for attribute, names, d_val, g_val in (("class", SHAPE_NAMES, data.classes, gen.classes),
                                           ("hue", HUE_NAMES, data.hue_bin, gen.hue_bin),
                                           ("size", SIZE_NAMES, data.size_bin, gen.size_bin)):
        for v, name in enumerate(names):
            d_mask, g_mask = d_val == v, g_val == v
            pr = precision_recall(data.features[d_mask], gen.features[g_mask], k)
            rows.append({"attribute": attribute, "value": name, "data_count": int(d_mask.sum()),
                         "data_rate": float(d_mask.mean()), "generated_count": int(g_mask.sum()),
                         "generated_rate": float(g_mask.mean()),
                         "generated_rate_interval": list(binomial_interval(int(g_mask.sum()), len(g_mask))),
                         "rate_ratio": float(g_mask.mean() / d_mask.mean()) if d_mask.any() else None, **pr})
    return rows


def mode_coverage(data: Judged, gen: Judged, min_count: int) -> dict[str, Any]:
    """Modes = class x hue bin x size tercile cells with >= min_count data images; how many the generator hits."""
    shape = (len(SHAPE_NAMES), len(HUE_NAMES), len(SIZE_NAMES))

    def counts(j: Judged) -> np.ndarray:
        table = np.zeros(shape, dtype=int)
        np.add.at(table, (j.classes, j.hue_bin, j.size_bin), 1)
        return table

    data_counts, gen_counts = counts(data), counts(gen)
    modes = data_counts >= min_count
    missed = [f"{SHAPE_NAMES[c]}/{HUE_NAMES[h]}/{SIZE_NAMES[s]}" for c, h, s in zip(*np.nonzero(modes & (gen_counts == 0)))]
    per_class = {SHAPE_NAMES[c]: {"modes": int(modes[c].sum()), "covered": int((modes[c] & (gen_counts[c] > 0)).sum())}
                 for c in range(len(SHAPE_NAMES))}
    return {"modes": int(modes.sum()), "covered": int((modes & (gen_counts > 0)).sum()), "cells": int(np.prod(shape)),
            "min_mode_count": min_count, "generated_samples": len(gen.classes), "missed": missed, "per_class": per_class}


def inclusiveness(data: ImageSet, generated: ImageSet, classifier: ShapeClassifier | None = None,
                  settings: InclusivenessSettings = InclusivenessSettings()) -> dict[str, Any]:
    """Per attribute value rates, precision and recall of ``generated`` against ``data``, and mode coverage."""
    if settings.k < 1:
        raise ConfigError(f"inclusiveness.k must be a whole number >= 1 (the paper uses 3), got {settings.k}.")
    if len(data) <= settings.k or len(generated) <= settings.k:
        raise ConfigError(f"inclusiveness needs more than k={settings.k} images on each side; got {len(data)} data and "
                          f"{len(generated)} generated images.")
    classifier = ShapeClassifier.from_pretrained() if classifier is None else classifier
    size_edges = np.quantile(measure(data.images)["size"].numpy(), [1 / 3, 2 / 3])
    d = judge(data.images, classifier, size_edges, settings.batch_size)
    g = judge(generated.images, classifier, size_edges, settings.batch_size)
    result = {"data": data.name, "generated": generated.name, "data_count": len(data), "generated_count": len(generated),
              "k": settings.k, "size_tercile_edges": size_edges.tolist(), "features": "shape classifier's pooled last layer",
              "overall": precision_recall(d.features, g.features, settings.k),
              "attributes": attribute_table(d, g, settings.k), "mode_coverage": mode_coverage(d, g, settings.min_mode_count)}
    if "class_id" in generated.labels:  # a conditional generator: how often the asked class is the one drawn
        asked = generated.labels["class_id"]
        result["asked_class_rates"] = {SHAPE_NAMES[c]: float((asked == c).mean()) for c in range(len(SHAPE_NAMES))}
        result["class_fidelity"] = {SHAPE_NAMES[c]: float((g.classes[asked == c] == c).mean())
                                    for c in range(len(SHAPE_NAMES)) if (asked == c).any()}
    return result


def data_class_weights(data: ImageSet) -> list[float]:
    """The data's class rates (from its labels when known, else judged by the shape classifier) as sampling weights."""
    if "class_id" in data.labels:
        ids = data.labels["class_id"].astype(int)
    else:
        ids = classify_and_embed(ShapeClassifier.from_pretrained(), data.images)[0]
    return (np.bincount(ids, minlength=len(SHAPE_NAMES)) / len(ids)).tolist()


def class_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The attribute table flattened for CSV (intervals as low/high columns)."""
    rows = []
    for r in result["attributes"]:
        flat = {k: v for k, v in r.items() if not k.endswith("interval")}
        for key in ("generated_rate_interval", "precision_interval", "recall_interval"):
            low, high = r[key] if r[key] else (None, None)
            flat[key.replace("_interval", "_low")], flat[key.replace("_interval", "_high")] = low, high
        rows.append(flat)
    return rows


def markdown_table(result: dict[str, Any], attributes: Sequence[str] = ("class", "hue", "size")) -> str:
    """The IMLE-GAN layout: per attribute value, data rate, generator rate, precision and recall; then coverage."""
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    lines = ["| attribute | value | data rate | generated rate | precision | recall |", "|---|---|---|---|---|---|"]
    for r in result["attributes"]:
        if r["attribute"] in attributes:
            lines.append(f"| {r['attribute']} | {r['value']} | {r['data_rate']:.3f} | {r['generated_rate']:.3f} | "
                         f"{fmt(r['precision'])} | {fmt(r['recall'])} |")
    o, c = result["overall"], result["mode_coverage"]
    lines += ["", f"All images: precision {fmt(o['precision'])}, recall {fmt(o['recall'])} (k = {result['k']}); "
              f"modes covered: {c['covered']} of {c['modes']} (class x hue bin x size tercile cells with >= "
              f"{c['min_mode_count']} data images, {c['generated_samples']} generated samples)."]
    return "\n".join(lines) + "\n"


def plot_inclusiveness(result: dict[str, Any], path: str | Path) -> Path:
    """Per class: data vs generated rate (with the generator's interval), and precision and recall per class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganalyze.figures import save_figure

    rows = [r for r in result["attributes"] if r["attribute"] == "class"]
    x = np.arange(len(rows))
    names = [r["value"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    gen = np.array([r["generated_rate"] for r in rows])
    iv = np.array([r["generated_rate_interval"] for r in rows])
    left.bar(x - 0.2, [r["data_rate"] for r in rows], 0.4, label="data", color="tab:gray")
    left.bar(x + 0.2, gen, 0.4, label="generator", color="tab:blue")
    left.errorbar(x + 0.2, gen, yerr=[gen - iv[:, 0], iv[:, 1] - gen], fmt="none", ecolor="black", capsize=3,
                  label="95% interval")
    left.set_xticks(x, names)
    left.set(ylabel="share of images", title="class rates (class as the shape classifier sees it)")
    left.legend(fontsize=8)
    for offset, key, colour in ((-0.2, "precision", "tab:green"), (0.2, "recall", "tab:orange")):
        vals = np.array([np.nan if r[key] is None else r[key] for r in rows])
        ivs = np.array([[np.nan, np.nan] if r[key + "_interval"] is None else r[key + "_interval"] for r in rows])
        right.bar(x + offset, np.nan_to_num(vals), 0.4, label=key, color=colour)
        right.errorbar(x + offset, vals, yerr=[vals - ivs[:, 0], ivs[:, 1] - vals], fmt="none", ecolor="black", capsize=3)
    right.set_xticks(x, names)
    right.set_ylim(0, 1.05)
    right.set(ylabel=f"k-NN precision / recall (k = {result['k']})", title="per class, in the classifier's feature space")
    right.legend(fontsize=8, loc="lower right")
    c = result["mode_coverage"]
    fig.suptitle(f"Inclusiveness of '{result['generated']}' against '{result['data']}': modes covered "
                 f"{c['covered']}/{c['modes']} in {c['generated_samples']} samples", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
