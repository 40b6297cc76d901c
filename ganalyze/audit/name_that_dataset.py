"""Name That Dataset (Torralba & Efros 2011): can a small classifier tell which data set an image comes from?

A one-hidden-layer network on three kinds of features, the factors measured from pixels (ganalyze.world.measure,
with squares so that "in the middle" is learnable, hue as its sine and cosine), the image's sharpness (mean
absolute Laplacian: blur lowers it, noise raises it) and the image shrunk to 8x8, is trained on half of every group and tested on the other half. Held-out accuracy well above chance means
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
from ganalyze.world.measure import measure
from ganalyze.world.quality import circular_spread

PIXEL_GRID = 8  # images are average-pooled to 8x8x3 = 192 pixel features
LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


@dataclass(frozen=True)
class ClassifierSettings:
    """The small classifier: hidden units, full-batch Adam steps, learning rate, weight decay, test share."""

    hidden: int = 64
    steps: int = 300
    lr: float = 0.01
    weight_decay: float = 1e-3
    test_share: float = 0.5


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute Laplacian of the grey image (n,): high-frequency energy, lowered by blur, raised by noise."""
    return F.conv2d(images.float().mean(1, keepdim=True), LAPLACIAN).abs().mean((1, 2, 3))


def measured_factors(images: torch.Tensor) -> dict[str, np.ndarray]:
    """The factors measured from pixels and the sharpness, (n,) each."""
    return {**{k: v.double().numpy() for k, v in measure(images).items()}, "sharpness": sharpness(images).double().numpy()}


def factor_columns(measured: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each measured factor as feature columns (n, k): the value and its square, or the hue's sine and cosine."""
    columns = {}
    for name, v in measured.items():
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
    measured = measured_factors(images)
    factors = factor_columns(measured)
    train, test = split_indices(labels, settings.test_share, seed)
    features = np.concatenate([*factors.values(), pixel_columns(images)], 1)
    predicted = fit_predict(features, labels, train, test, settings, seed)
    table = confusion(labels[test], predicted, len(sets))
    per_factor = {}
    for name in tqdm(measured, desc="one classifier per factor", leave=False):
        alone = accuracy_summary(labels[test], fit_predict(factors[name], labels, train, test, settings, seed))
        smd, (a, b) = standardized_mean_difference([measured[name][labels == i] for i in range(len(sets))],
                                                   circular=name == "hue")
        per_factor[name] = {"accuracy_alone": alone["accuracy"], "interval_alone": alone["interval"],
                            "largest_smd": smd, "smd_pair": [names[a], names[b]],
                            "group_means": {n: float(measured[name][labels == i].mean()) for i, n in enumerate(names)}}
    ranking = sorted(per_factor, key=lambda k: (-per_factor[k]["accuracy_alone"], -per_factor[k]["largest_smd"]))
    return {"groups": names, "group_sizes": [len(s) for s in sets], **accuracy_summary(labels[test], predicted),
            "confusion": table.tolist(), "factors": per_factor, "factor_ranking": ranking,
            "classifier": {"features": f"measured factors and sharpness (+squares, hue as sin/cos), {PIXEL_GRID}x{PIXEL_GRID} pixels",
                           **settings.__dict__}, "seed": seed}


def plot_confusion(result: dict[str, Any], path: str | Path) -> Path:
    """Left: the row-normalised confusion matrix with counts; right: each factor's accuracy alone against chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganalyze.figures import save_figure

    table = np.asarray(result["confusion"], dtype=float)
    share = table / table.sum(1, keepdims=True).clip(min=1)
    names, k = result["groups"], len(result["groups"])
    side = max(4.0, 1.5 + 0.8 * k)
    fig, (ax, bars) = plt.subplots(1, 2, figsize=(side + 4.5, side), gridspec_kw={"width_ratios": [side, 4.0]})
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
    ax.set_title(f"held-out accuracy {result['accuracy']:.3f} [{low:.3f}, {high:.3f}], chance {result['chance']:.3f}:\n"
                 f"{verdict}", fontsize=9)
    order = result["factor_ranking"][::-1]
    acc = np.array([result["factors"][f]["accuracy_alone"] for f in order])
    iv = np.array([result["factors"][f]["interval_alone"] for f in order])
    bars.barh(range(len(order)), acc, color="tab:blue", alpha=0.8)
    bars.errorbar(acc, range(len(order)), xerr=[acc - iv[:, 0], iv[:, 1] - acc], fmt="none", ecolor="black", capsize=3,
                  label="95% interval")
    bars.axvline(result["chance"], color="tab:red", ls="--", label="chance")
    bars.set_yticks(range(len(order)), order)
    bars.set(xlabel="held-out accuracy of a classifier on this factor alone", xlim=(0, 1))
    bars.set_title("which measured factor tells them apart", fontsize=9)
    bars.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Name That Dataset: which of {k} data sets is each held-out image from?", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def factor_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per measured factor, most separating first."""
    return [{"factor": name, "accuracy_alone": f["accuracy_alone"], "interval_low": f["interval_alone"][0],
             "interval_high": f["interval_alone"][1], "largest_smd": f["largest_smd"], "smd_pair": " vs ".join(f["smd_pair"]),
             **{f"mean_{g}": v for g, v in f["group_means"].items()}}
            for name, f in ((n, result["factors"][n]) for n in result["factor_ranking"])]
