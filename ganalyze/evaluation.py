"""Evaluate a trained direction on held-out seeds over an α grid that spans and exceeds the trained range.

For the trained transformer and random baselines of equal norm it measures, per seed and α: the
assessor's score, its change from α = 0 and the target A(G(z)) + α; on the shapes world also the true
factors measured from pixels and the shape class. Metrics: slope and Spearman ρ of the change vs α,
R² against the target line, fraction of seeds changing monotonically, class preservation.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from ganalyze.atomic import write_json, write_text
from ganalyze.checks import number, whole
from ganalyze.errors import ConfigError, GanalyzeError
from ganalyze.fast_path import FastPath, autocast, compute_dtype, prepare_frozen
from ganalyze.generators.base import Generator
from ganalyze.sampling import held_out_seeds, latents_for_seeds, stream_seed
from ganalyze.transformers.base import Transformer

log = logging.getLogger(__name__)

CIRCULAR_FACTORS = {"hue": 360.0}  # changes of these wrap around (degrees)
DIRECTIONS = ("trained", "random")
# evaluate's default: fp32 in the networks' own layout, the straightforward evaluation's numbers exactly (a job
# passes its train.fast: its precision and channels_last, whose rounding moves the metrics slightly)
EVAL_FAST = FastPath(precision="fp32", channels_last=False)


@dataclass
class EvalSettings:
    """How to evaluate (the ``eval`` section of the config and its schema): held-out seeds, the α grid
    (``alpha_scale`` × the trained range, ``num_alphas`` points), batching; checked on creation.

    ``classes`` (ids or names) defaults to the run's train.classes; ``world`` (auto, true, false) measures the
    shapes world's true factors and class preservation (auto: on for the shapes generator); ``random_directions``
    random baselines of equal norm (the first kept whole); ``grid_seeds`` rows of the visual definition and
    ``grid_classes`` one more visual definition per class; ``out`` the folder ganalyze-eval writes (default: a new
    <run_dir>/eval-<time>); ``enabled`` false skips the evaluation after training.
    """

    enabled: bool = True
    num_seeds: int = 200
    alpha_scale: float = 2.0
    num_alphas: int = 9
    batch_size: int = 250
    classes: Any = None
    world: Any = "auto"
    slider: int = 0
    random_directions: int = 5
    grid_seeds: int = 8
    grid_classes: Any = None
    out: Optional[str] = None

    def __post_init__(self) -> None:
        examples = {"num_seeds": 200, "num_alphas": 9, "batch_size": 250, "random_directions": 5, "grid_seeds": 8}
        for key, example in examples.items():
            setattr(self, key, whole(f"eval.{key}", getattr(self, key), example=example))
        self.slider = whole("eval.slider", self.slider, minimum=0, example=0)
        if not (isinstance(self.alpha_scale, (int, float)) and math.isfinite(self.alpha_scale) and self.alpha_scale >= 1.0):
            raise ConfigError(f"eval.alpha_scale={self.alpha_scale} must be >= 1: the α grid spans and exceeds "
                              "the trained range (e.g. eval.alpha_scale=2).")
        self.alpha_scale = number("eval.alpha_scale", self.alpha_scale, 1.0, 1e3, 2.0)
        world = {"auto": "auto", "true": True, "false": False}.get(str(self.world).lower())
        if world is None:
            raise ConfigError(f"eval.world={self.world!r} must be auto, true or false.")
        self.world = world


def alpha_grid(alpha_range: tuple[float, float], scale: float, num: int) -> np.ndarray:
    """``num`` evenly spaced α over scale × [a, b], plus a, b and 0, sorted and de-duplicated."""
    low, high = alpha_range
    grid = np.concatenate([np.linspace(scale * low, scale * high, num), [low, high, 0.0]])
    return np.unique(np.round(grid, 10))


@dataclass
class Sweep:
    """Everything measured for one direction: arrays of shape (seeds, alphas); ``images`` (kept seeds, alphas, C, H,
    W) in [0, 1] on the CPU, the images of the first seeds where the sweep was asked to keep them (else None)."""

    scores: np.ndarray
    factors: dict[str, np.ndarray]
    predicted: np.ndarray | None
    images: torch.Tensor | None = None


@dataclass
class WorldTools:
    """Ground-truth instruments of the shapes world: pixel measurement and the shape classifier (if shipped)."""

    measure: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    classifier: torch.nn.Module | None


def world_tools(generator: Generator, mode: str | bool) -> WorldTools | None:
    """The world's instruments when evaluating the shapes generator (mode auto) or when asked (true)."""
    from ganalyze.generators.shapes import ShapesGenerator

    if mode is False or (mode == "auto" and not isinstance(generator, ShapesGenerator)):
        return None
    from ganalyze.world.classifier import ShapeClassifier
    from ganalyze.world.measure import measure

    try:
        classifier = ShapeClassifier.from_pretrained()
    except GanalyzeError as err:
        warnings.warn(f"class preservation is not measured: the shape classifier did not load ({err}).", stacklevel=2)
        classifier = None
    return WorldTools(measure, classifier)


def slider_alpha(value: float, n: int, alpha_dim: int, slider: int, device: torch.device) -> torch.Tensor:
    """α for ``n`` samples: ``value`` on one slider, 0 on the others ((n,) when there is one slider)."""
    if alpha_dim == 1:
        return torch.full((n,), float(value), device=device)
    alpha = torch.zeros(n, alpha_dim, device=device)
    alpha[:, slider] = value
    return alpha


@dataclass
class Judged:
    """What the judges say of one batch of images: the assessor's scores, the world's factors, the shape class."""

    scores: np.ndarray
    factors: dict[str, np.ndarray]
    predicted: np.ndarray | None


def judge(images: torch.Tensor, assessor: torch.nn.Module, tools: WorldTools | None, classify: bool) -> Judged:
    """Score a batch with the assessor and, with ``tools``, measure its true factors and (``classify``) its class."""
    scores = assessor(images).float().cpu().numpy()
    if tools is None:
        return Judged(scores, {}, None)
    factors = {name: values.numpy() for name, values in tools.measure(images.float().cpu()).items()}
    classifier = tools.classifier if classify else None
    predicted = None if classifier is None else classifier.to(images.device)(images).argmax(1).cpu().numpy()
    return Judged(scores, factors, predicted)


@torch.no_grad()
def sweep(generator: Generator, transformer: Transformer, assessor: torch.nn.Module, z: torch.Tensor, y: torch.Tensor,
          alphas: np.ndarray, settings: EvalSettings, tools: WorldTools | None, label: str, classify: bool = True,
          shared: dict[int, tuple[torch.Tensor, Judged]] | None = None, dtype: torch.dtype = torch.float32,
          keep: int = 0) -> Sweep:
    """Generate and measure every (seed, α) pair in batches, under no_grad, in ``dtype`` (bf16: autocast).

    ``shared`` (batch start -> latents, judged) holds the α = 0 batches of earlier sweeps of the same seeds: a
    batch whose edited latents equal those (T(z, 0) = z for the linear walk) is not generated again (unless it holds
    images to keep). ``classify`` false leaves the shape class unmeasured (predicted is None). The images of the
    first ``keep`` seeds are kept (Sweep.images), for a visual definition drawn without generating them again.
    """
    device = next(transformer.parameters()).device
    alpha_dim = int(getattr(transformer, "alpha_dim", 1))
    chunks = [(i, min(i + settings.batch_size, len(z))) for i in range(0, len(z), settings.batch_size)]
    scores = np.zeros((len(z), len(alphas)))
    factors: dict[str, np.ndarray] = {}
    classify = bool(classify and tools and tools.classifier)
    predicted = np.zeros((len(z), len(alphas)), dtype=np.int64) if classify else None
    keep = min(keep, len(z))
    kept: list[list[torch.Tensor]] = [[] for _ in alphas]
    bar = tqdm(total=len(alphas) * len(chunks), desc=f"eval {label}", unit="batch", mininterval=0.5)
    for j, value in enumerate(alphas):
        for start, stop in chunks:
            zc, yc = z[start:stop].to(device), y[start:stop].to(device)
            latents = transformer(zc, slider_alpha(value, len(zc), alpha_dim, settings.slider, zc.device), yc)
            reuse = shared.get(start) if shared is not None and value == 0 and start >= keep else None
            if reuse is not None and torch.equal(reuse[0], latents) and (reuse[1].predicted is not None or not classify):
                judged = reuse[1]
            else:
                with autocast(dtype, latents.device):
                    images = generator(latents, yc)
                    judged = judge(images, assessor, tools, classify)
                if start < keep:
                    kept[j].append(images[: keep - start].float().cpu())
                if shared is not None and value == 0:
                    shared[start] = (latents, judged)
            scores[start:stop, j] = judged.scores
            for name, values in judged.factors.items():
                factors.setdefault(name, np.zeros((len(z), len(alphas))))[start:stop, j] = values
            if predicted is not None:
                predicted[start:stop, j] = judged.predicted
            bar.update(1)
    bar.close()
    images = torch.stack([torch.cat(column) for column in kept], dim=1) if keep else None
    return Sweep(scores, factors, predicted, images)


def zero_index(alphas: np.ndarray) -> int:
    """Index of α = 0 in the grid (alpha_grid always includes it)."""
    return int(np.flatnonzero(alphas == 0)[0])


def change_from_zero(alphas: np.ndarray, values: np.ndarray, period: float | None = None) -> np.ndarray:
    """values (seeds, alphas) minus each seed's value at α = 0; wrapped to ±period/2 for circular factors."""
    delta = values - values[:, [zero_index(alphas)]]
    return delta if period is None else (delta + period / 2) % period - period / 2


def pooled_spearman(alphas: np.ndarray, values: np.ndarray, inside: np.ndarray, period: float | None = None) -> float:
    """Spearman ρ between α and each seed's change from α = 0 of values (seeds, alphas), pooled over seeds, on
    the α where ``inside`` (0 when nothing changes): the ρ every direction of the package is measured by."""
    delta = change_from_zero(alphas, values, period)[:, inside]
    if np.ptp(delta) == 0:
        return 0.0
    return float(spearmanr(np.broadcast_to(alphas[inside], delta.shape).ravel(), delta.ravel()).statistic)


def change_metrics(alphas: np.ndarray, values: np.ndarray, inside: np.ndarray, period: float | None = None) -> dict[str, Any]:
    """How values (seeds, alphas) change from α = 0 with α: slope, Spearman ρ, monotonic seeds, per-α stats.

    Slope and ρ use the pairs inside the trained range (``inside``); the ``_grid`` variants use all.
    A seed is monotonic when its change never reverses over the trained range and ends non-zero,
    in the direction of ρ.
    """
    delta = change_from_zero(alphas, values, period)
    a_all = np.broadcast_to(alphas, delta.shape)

    def fit(mask: np.ndarray) -> tuple[float, float]:
        a, d = a_all[:, mask].ravel(), delta[:, mask].ravel()
        slope = float(np.polyfit(a, d, 1)[0]) if np.ptp(a) > 0 else float("nan")
        return slope, pooled_spearman(alphas, values, mask, period)

    slope, rho = fit(inside)
    slope_grid, rho_grid = fit(np.ones_like(inside))
    sign = 1.0 if rho >= 0 else -1.0
    path = sign * delta[:, inside]
    monotonic = (np.diff(path, axis=1) >= 0).all(axis=1) & (path[:, -1] - path[:, 0] > 0)
    return {
        "slope": slope, "spearman": rho, "slope_grid": slope_grid, "spearman_grid": rho_grid,
        "monotonic_fraction": float(monotonic.mean()),
        "mean_change": delta.mean(0).tolist(), "std_change": delta.std(0).tolist(),
        "mean": values.mean(0).tolist(),
    }


def r2(observed: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination of ``predicted`` for ``observed`` (1 is perfect; can be negative)."""
    total = float(((observed - observed.mean()) ** 2).sum())
    return 1.0 - float(((observed - predicted) ** 2).sum()) / total if total > 0 else float("nan")


def score_metrics(alphas: np.ndarray, scores: np.ndarray, inside: np.ndarray,
                  score_range: tuple[float, float] | None) -> dict[str, Any]:
    """change_metrics of the score plus R² against the target A(G(z)) + α (clipped like training) in the range.

    ``r2`` compares raw scores (seed-to-seed differences help it); ``r2_change`` compares the changes
    from α = 0 with the target changes, the stricter test of whether the direction does what it should.
    """
    metrics = change_metrics(alphas, scores, inside)
    base = scores[:, [zero_index(alphas)]]
    target = base + alphas
    if score_range is not None:
        target = np.clip(target, *score_range)
    metrics["r2"] = r2(scores[:, inside].ravel(), target[:, inside].ravel())
    metrics["r2_change"] = r2((target - base)[:, inside].ravel(), (scores - base)[:, inside].ravel())
    metrics["mean_target_change"] = (target - base).mean(0).tolist()
    return metrics


def class_metrics(alphas: np.ndarray, predicted: np.ndarray, y: np.ndarray, alpha_range: tuple[float, float]) -> dict[str, Any]:
    """Fraction of images whose predicted class is that at α = 0 (preserved) and that of y (accuracy), per α."""
    preserved = (predicted == predicted[:, [zero_index(alphas)]]).mean(0)
    accuracy = (predicted == y[:, None]).mean(0)
    at = {name: int(np.flatnonzero(np.isclose(alphas, value))[0]) for name, value in zip(("low", "high"), alpha_range)}
    return {"preserved": preserved.tolist(), "accuracy": accuracy.tolist(),
            "preserved_at_low": float(preserved[at["low"]]), "preserved_at_high": float(preserved[at["high"]])}


@dataclass
class Evaluation:
    """Results of ``evaluate``: settings, the α grid, held-out seeds and classes, sweeps and metrics per direction."""

    settings: EvalSettings
    alpha_range: tuple[float, float]
    alphas: np.ndarray
    seeds: list[int]
    classes: np.ndarray
    sweeps: dict[str, Sweep]
    metrics: dict[str, dict[str, Any]]

    def summary(self) -> dict[str, float]:
        """The headline numbers as a flat dict (for logs and README tables)."""
        flat: dict[str, float] = {}
        for direction, groups in self.metrics.items():
            for group, values in groups.items():
                for key, value in values.items():
                    if isinstance(value, float):
                        flat[f"{direction}/{group}_{key}"] = value
        return flat


def direction_metrics(result: Sweep, alphas: np.ndarray, inside: np.ndarray, y: np.ndarray,
                      alpha_range: tuple[float, float], score_range: tuple[float, float] | None) -> dict[str, Any]:
    """All metrics of one direction's sweep: score, each measured factor, and class preservation."""
    metrics = {"score": score_metrics(alphas, result.scores, inside, score_range)}
    for name, values in result.factors.items():
        metrics[name] = change_metrics(alphas, values, inside, CIRCULAR_FACTORS.get(name))
    if result.predicted is not None:
        metrics["class"] = class_metrics(alphas, result.predicted, y, alpha_range)
    return metrics


def draw_rhos(result: Sweep, alphas: np.ndarray, inside: np.ndarray) -> dict[str, float]:
    """The Spearman ρ of the score and of each measured factor of a sweep: all that is kept of an extra random
    draw (the same ρ as direction_metrics gives)."""
    rhos = {"score": pooled_spearman(alphas, result.scores, inside)}
    rhos.update({name: pooled_spearman(alphas, values, inside, CIRCULAR_FACTORS.get(name))
                 for name, values in result.factors.items()})
    return rhos


def inference_ready(module: torch.nn.Module | None, fast: FastPath) -> None:
    """Prepare a frozen network (eval mode, no gradients) in place for the fast path's inference: fixed spectral
    norms, channels_last; never compiled here (on the AVX2 CPU compiling BigGAN and MemNet cost more than it won back:
    docs/performance.md); leave any other as it is. A forward the training compiled stays compiled."""
    if module is not None and not module.training and not any(p.requires_grad for p in module.parameters()):
        prepare_frozen(module, replace(fast, compile=False))


def evaluate(generator: Generator, transformer: Transformer, assessor: torch.nn.Module,
             alpha_range: tuple[float, float], settings: EvalSettings, seed: int = 0,
             tools: WorldTools | None = None, fast: FastPath | None = EVAL_FAST) -> Evaluation:
    """Sweep the trained direction and random ones of equal norm over held-out seeds and the α grid.

    The first random direction is kept whole as "random" (rows, plots); with ``random_directions`` > 1
    the others add, per measured group, the Spearman ρ of every draw and their mean |ρ| to its metrics,
    an estimate of what a random direction does that does not hang on one draw. ρ ranks changes and ignores
    their size: where a factor responds to z alike across seeds (the shapes world) a random direction that
    moves it slowly still gets a high |ρ| (scripts/random_baseline.py measures why); compare the slopes too.
    ``tools`` replaces the instruments chosen by ``settings.world`` (e.g. to measure more factors).

    Each image is generated once: the α = 0 images, the same for every linear direction, are shared; of the
    extra draws, whose ρ alone is kept, only the α that ρ reads are generated, and the shape classifier skipped; the
    trained sweep keeps the images of its first ``grid_seeds`` seeds, the visual definition's (see
    walk.walk_of_sweep). ``fast`` prepares the frozen networks in place (see inference_ready) and sets the
    precision (a job passes its train.fast);
    None is the straightforward evaluation, every image of every direction generated and judged in full on the
    networks as they are: ganalyze-bench --job times it as the baseline.
    """
    seeds = held_out_seeds(settings.num_seeds)
    z, y = latents_for_seeds(generator, seeds, settings.classes)
    alphas = alpha_grid(alpha_range, settings.alpha_scale, settings.num_alphas)
    inside = (alphas >= alpha_range[0] - 1e-9) & (alphas <= alpha_range[1] + 1e-9)
    tools = tools or world_tools(generator, settings.world)
    device = next(transformer.parameters()).device
    score_range = getattr(assessor, "score_range", None)
    baselines = [transformer.random_like(z.to(device), y.to(device),
                                         torch.Generator().manual_seed(stream_seed(seed, "random_direction", k))).eval()
                 for k in range(settings.random_directions)]
    if fast is not None:
        for network in (generator, assessor, tools.classifier if tools else None):
            inference_ready(network, fast)
    dtype = compute_dtype(fast.precision, device) if fast is not None else torch.float32
    shared: dict[int, tuple[torch.Tensor, Judged]] | None = {} if fast is not None else None

    def measured(model: Transformer, label: str, grid: np.ndarray = alphas, classify: bool = True, keep: int = 0) -> Sweep:
        return sweep(generator, model, assessor, z, y, grid, settings, tools, label, classify, shared, dtype, keep)

    sweeps, metrics = {}, {}
    for direction, model in zip(DIRECTIONS, (transformer.eval(), baselines[0])):
        keep = settings.grid_seeds if direction == "trained" and fast is not None else 0  # the visual definition's
        sweeps[direction] = measured(model, direction, keep=keep)
        metrics[direction] = direction_metrics(sweeps[direction], alphas, inside, y.numpy(), alpha_range, score_range)
    # Of the extra draws only ρ is kept, which reads the trained range and α = 0: the other α are not generated.
    read = np.ones_like(inside) if fast is None else inside | (alphas == 0)
    draws = [{group: values["spearman"] for group, values in metrics["random"].items() if "spearman" in values}] + [
        draw_rhos(measured(model, f"random {k + 1}", alphas[read], classify=fast is None), alphas[read], inside[read])
        for k, model in enumerate(baselines[1:], start=1)]
    for group, values in metrics["random"].items():
        if "spearman" in values:
            values["spearman_draws"] = [draw[group] for draw in draws]
            values["abs_spearman_mean"] = float(np.mean(np.abs(values["spearman_draws"])))
    return Evaluation(settings, alpha_range, alphas, seeds, y.numpy(), sweeps, metrics)


def save_evaluation(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write metrics.json (all metrics and settings) and rows.csv (one row per direction × seed × α)."""
    out_dir = Path(out_dir)
    paths = {"metrics": out_dir / "metrics.json", "rows": out_dir / "rows.csv"}
    payload = {
        "settings": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in asdict(evaluation.settings).items()},
        "alpha_range": list(evaluation.alpha_range), "alphas": evaluation.alphas.tolist(),
        "num_seeds": len(evaluation.seeds), "summary": evaluation.summary(), "metrics": evaluation.metrics,
    }
    write_json(paths["metrics"], payload)
    with io.StringIO(newline="") as f:
        writer = csv.writer(f)
        factor_names = sorted(next(iter(evaluation.sweeps.values())).factors)
        writer.writerow(["direction", "seed", "class", "alpha", "score", "score_change",
                         *factor_names, *(f"{n}_change" for n in factor_names), "predicted_class"])
        for direction, result in evaluation.sweeps.items():
            score_change = change_from_zero(evaluation.alphas, result.scores)
            changes = {n: change_from_zero(evaluation.alphas, v, CIRCULAR_FACTORS.get(n)) for n, v in result.factors.items()}
            for i, seed in enumerate(evaluation.seeds):
                for j, alpha in enumerate(evaluation.alphas):
                    pred = "" if result.predicted is None else int(result.predicted[i, j])
                    writer.writerow([direction, seed, int(evaluation.classes[i]), float(alpha),
                                     f"{result.scores[i, j]:.6g}", f"{score_change[i, j]:.6g}",
                                     *(f"{result.factors[n][i, j]:.6g}" for n in factor_names),
                                     *(f"{changes[n][i, j]:.6g}" for n in factor_names), pred])
        write_text(paths["rows"], f.getvalue())
    return paths
