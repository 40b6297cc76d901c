"""Name That Dataset (Torralba & Efros 2011): can a small classifier tell which data set an image comes from?

A one-hidden-layer network on two kinds of features, the factors measured from pixels (ganalyze.world.measure,
with squares so that "in the middle" is learnable, hue as its sine and cosine) and the image shrunk to 8x8,
is trained on half of every group and tested on the other half. Held-out accuracy well above chance means
the data sets differ (each has its own bias); at chance, within its exact binomial interval, means the
classifier cannot tell them apart. Which measured factors separate the groups is told two ways: a
classifier trained on that factor alone, and the largest standardized mean difference between two groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ganalyze.audit.intervals import binomial_interval
from ganalyze.audit.sources import ImageSet
from ganalyze.errors import ConfigError
from ganalyze.world.measure import MEASURED_FACTORS, measure
from ganalyze.world.quality import circular_spread

PIXEL_GRID = 8  # images are average-pooled to 8x8x3 = 192 pixel features


@dataclass(frozen=True)
class ClassifierSettings:
    """The small classifier: hidden units, full-batch Adam steps, learning rate, weight decay, test share."""

    hidden: int = 64
    steps: int = 300
    lr: float = 0.01
    weight_decay: float = 1e-3
    test_share: float = 0.5


def factor_columns(images: torch.Tensor) -> dict[str, np.ndarray]:
    """Each measured factor as feature columns (n, k): the value and its square, or the hue's sine and cosine."""
    measured = {k: v.double().numpy() for k, v in measure(images).items()}
    columns = {}
    for name in MEASURED_FACTORS:
        v = measured[name]
        if name == "hue":
            rad = np.deg2rad(v)
            columns[name] = np.stack([np.sin(rad), np.cos(rad)], 1)
        else:
            columns[name] = np.stack([v, v * v], 1)
    return columns


def pixel_columns(images: torch.Tensor) -> np.ndarray:
    """The images average-pooled to PIXEL_GRID x PIXEL_GRID, flattened: (n, 3 * PIXEL_GRID**2)."""
    return F.adaptive_avg_pool2d(images.float(), PIXEL_GRID).flatten(1).double().numpy()


def split_indices(labels: np.ndarray, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified random split: ``test_share`` of every group held out (at least one image each side)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for g in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == g))
        k = min(max(1, int(round(len(idx) * test_share))), len(idx) - 1)
        test.append(idx[:k])
        train.append(idx[k:])
    return np.concatenate(train), np.concatenate(test)


def fit_predict(features: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                settings: ClassifierSettings, seed: int) -> np.ndarray:
    """Train the small classifier on ``train`` rows (features standardized on them), predict the ``test`` rows."""
    mean, std = features[train].mean(0), features[train].std(0) + 1e-6
    x = torch.as_tensor((features - mean) / std, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(x.shape[1], settings.hidden), nn.ReLU(), nn.Linear(settings.hidden, int(y.max()) + 1))
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    for _ in range(settings.steps):
        loss = F.cross_entropy(model(x[train]), y[train])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return model(x[test]).argmax(1).numpy()


def confusion(truth: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Counts (k, k): rows the true group, columns the predicted one."""
    table = np.zeros((k, k), dtype=int)
    np.add.at(table, (truth, predicted), 1)
    return table


def accuracy_summary(truth: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Held-out accuracy with its exact binomial interval, chance (the largest group's share) and the verdict."""
    hits, n = int((truth == predicted).sum()), len(truth)
    low, high = binomial_interval(hits, n)
    chance = float(np.bincount(truth).max() / n)
    return {"accuracy": hits / n, "interval": [low, high], "n_test": n, "chance": chance,
            "at_chance": bool(low <= chance <= high), "above_chance": bool(low > chance)}


def standardized_mean_difference(values: list[np.ndarray], circular: bool) -> tuple[float, tuple[int, int]]:
    """The largest |mean_a - mean_b| / pooled σ over pairs of groups (hue: circular means and spreads)."""
    best, pair = 0.0, (0, 0)
    for a in range(len(values)):
        for b in range(a + 1, len(values)):
            va, vb = values[a], values[b]
            if circular:
                ma, mb = (np.rad2deg(np.angle(np.exp(1j * np.deg2rad(v)).mean())) for v in (va, vb))
                diff = abs((ma - mb + 180.0) % 360.0 - 180.0)
                pooled = np.sqrt((circular_spread(va) ** 2 + circular_spread(vb) ** 2) / 2)
            else:
                diff = abs(va.mean() - vb.mean())
                pooled = np.sqrt((va.var() + vb.var()) / 2)
            smd = float(diff / pooled) if pooled > 0 else (0.0 if diff == 0 else float("inf"))
            if smd > best:
                best, pair = smd, (a, b)
    return best, pair


def name_that_dataset(sets: Sequence[ImageSet], settings: ClassifierSettings = ClassifierSettings(),
                      seed: int = 0) -> dict[str, Any]:
    """Train on half of each group, test on the rest: accuracy, interval, chance, confusion, factor ranking."""
    if len(sets) < 2:
        raise ConfigError(f"Name That Dataset needs at least two groups to tell apart, got {len(sets)} "
                          f"({[s.name for s in sets]}); list two or more sources.")
    if not 0.0 < settings.test_share < 1.0:
        raise ConfigError(f"name_that_dataset.test_share must be in (0, 1), got {settings.test_share}.")
    names = [s.name for s in sets]
    images = torch.cat([s.images for s in sets])
    labels = np.concatenate([np.full(len(s), i) for i, s in enumerate(sets)])
    factors = factor_columns(images)
    train, test = split_indices(labels, settings.test_share, seed)
    features = np.concatenate([*factors.values(), pixel_columns(images)], 1)
    predicted = fit_predict(features, labels, train, test, settings, seed)
    table = confusion(labels[test], predicted, len(sets))
    measured = {k: v.double().numpy() for k, v in measure(images).items()}
    per_factor = {}
    for name in tqdm(MEASURED_FACTORS, desc="one classifier per factor", leave=False):
        alone = accuracy_summary(labels[test], fit_predict(factors[name], labels, train, test, settings, seed))
        smd, (a, b) = standardized_mean_difference([measured[name][labels == i] for i in range(len(sets))],
                                                   circular=name == "hue")
        per_factor[name] = {"accuracy_alone": alone["accuracy"], "interval_alone": alone["interval"],
                            "largest_smd": smd, "smd_pair": [names[a], names[b]],
                            "group_means": {n: float(measured[name][labels == i].mean()) for i, n in enumerate(names)}}
    ranking = sorted(per_factor, key=lambda k: (-per_factor[k]["accuracy_alone"], -per_factor[k]["largest_smd"]))
    return {"groups": names, "group_sizes": [len(s) for s in sets], **accuracy_summary(labels[test], predicted),
            "confusion": table.tolist(), "factors": per_factor, "factor_ranking": ranking,
            "classifier": {"features": f"measured factors (+squares, hue as sin/cos) and {PIXEL_GRID}x{PIXEL_GRID} pixels",
                           **settings.__dict__}, "seed": seed}


def plot_confusion(result: dict[str, Any], path: str | Path) -> Path:
    """Heat map of the row-normalised confusion matrix, counts written in the cells, accuracy and chance in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganalyze.atomic import write_with

    table = np.asarray(result["confusion"], dtype=float)
    share = table / table.sum(1, keepdims=True).clip(min=1)
    names, k = result["groups"], len(result["groups"])
    fig, ax = plt.subplots(figsize=(max(5.5, 2.2 + 0.9 * k), 1.8 + 0.8 * k))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{share[i, j]:.2f}\n({int(table[i, j])})", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), names, rotation=30, ha="right")
    ax.set_yticks(range(k), names)
    ax.set(xlabel="predicted data set", ylabel="true data set")
    low, high = result["interval"]
    verdict = (f"above chance; most separating factor: {result['factor_ranking'][0]}" if result["above_chance"]
               else "not told apart (chance is inside the interval)" if result["at_chance"] else "below chance")
    ax.set_title(f"Name That Dataset: held-out accuracy {result['accuracy']:.3f} [{low:.3f}, {high:.3f}]\n"
                 f"chance {result['chance']:.3f}: {verdict}", fontsize=9)
    fig.tight_layout()
    write_with(path, lambda handle: fig.savefig(handle, format="png", dpi=110))
    plt.close(fig)
    return Path(path)


def factor_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per measured factor, most separating first."""
    return [{"factor": name, "accuracy_alone": f["accuracy_alone"], "interval_low": f["interval_alone"][0],
             "interval_high": f["interval_alone"][1], "largest_smd": f["largest_smd"], "smd_pair": " vs ".join(f["smd_pair"]),
             **{f"mean_{g}": v for g, v in f["group_means"].items()}}
            for name, f in ((n, result["factors"][n]) for n in result["factor_ranking"])]
