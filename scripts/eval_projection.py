"""Measure dataset projection on the shapes world (issue 6, item 5), saved as JSON and an example grid.

For each pair [A, B]: held-out real images of variant A are projected onto B, then judged by models that
never saw a projection: variant classifiers trained here on real images (one of A against B, the judge of
the bar, and one over all the model's data sets), the world's shape classifier, and the world's pixel
measurement of factors. With direction.run_dir=<a ganalyze-train run folder> (trained with
assessor=dataset_likeness assessor.target=B) it also measures how the all-data-sets classifier's
B-probability follows α on held-out seeds, over the α range the direction was trained on. Example:
    ganalyze-train assessor=dataset_likeness assessor.target=cool assessor.output=probability \
        "train.alpha_range=[-1,1]" run_dir=runs/projection/direction_cool logger=none
    OMP_NUM_THREADS=1 python scripts/eval_projection.py weights=ganalyze/weights/projection \
        direction.run_dir=runs/projection/direction_cool
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from scipy.stats import spearmanr, wasserstein_distance

from ganalyze.build import build_generator
from ganalyze.evaluation import (EvalSettings, alpha_grid, change_from_zero, change_metrics, pooled_spearman, sweep,
                                 world_tools)
from ganalyze.projection.datasets import split_held_out, world_sets
from ganalyze.projection.model import ProjectionModel
from ganalyze.projection.project import projection_grid, save_grid
from ganalyze.projection.variant_classifier import TargetProbability, VariantClassifier, train_variant_classifier
from ganalyze.world import MEASURED_FACTORS, load_variant, measure
from ganalyze.sampling import held_out_seeds, latents_for_seeds
from ganalyze.transformers import load_transformer
from ganalyze.world.classifier import ShapeClassifier

BATCH = 250
BOOTSTRAP_DRAWS = 1000
DROP = 0.05  # a fall of P(target) between neighbouring α counted as a drop
MOVED = 0.005  # a change of |centroid − 0.5| (fraction of the width) counted as a move


def unwrap_hues(*samples: np.ndarray) -> list[np.ndarray]:
    """Hues (degrees) cut open at the middle of the widest empty arc of all samples, so linear W1 is circular-safe."""
    pooled = np.sort(np.concatenate(samples) % 360.0)
    gaps = np.diff(np.concatenate([pooled, [pooled[0] + 360.0]]))
    cut = (pooled[gaps.argmax()] + gaps.max() / 2) % 360.0
    return [(s - cut) % 360.0 for s in samples]


def biased_factors(a: str, b: str) -> list[str]:
    """Measured factors whose exact (mean, std) differ between world variants a and b."""
    sa, sb = load_variant(a).factor_stats(), load_variant(b).factor_stats()
    return [f for f in MEASURED_FACTORS if f in sa and not np.allclose(sa[f], sb[f])]


def w1(factor: str, values: np.ndarray, to: np.ndarray) -> float:
    """1-Wasserstein distance between two samples of a factor (hue on the circle, cut open at an empty arc)."""
    if factor == "hue":
        values, to = unwrap_hues(values, to)
    return float(wasserstein_distance(values, to))


@torch.no_grad()
def in_batches(fn, images: torch.Tensor) -> torch.Tensor:
    """Apply ``fn`` to ``images`` in batches and concatenate."""
    return torch.cat([fn(images[i : i + BATCH]) for i in range(0, len(images), BATCH)])


def variant_classifier(cfg: DictConfig, labels: list[str], out: Path) -> tuple[VariantClassifier, float]:
    """A variant classifier over ``labels`` trained on real images into out_dir (reused when already trained
    there under the same config), and its accuracy on held-out real images."""
    c = cfg.classifier
    data = world_sets(labels, int(c.per_set) + int(c.held_out), int(c.data_seed))
    train, held = split_held_out(data, int(c.held_out))
    train_cfg = {**OmegaConf.to_container(c.train, resolve=True), "width": int(c.width)}
    model = train_variant_classifier(train, train_cfg, out / f"variant_classifier_{'_'.join(labels)}").eval()
    images, truth = held.batch(torch.arange(len(held)))
    return model, float((model.probabilities(images).argmax(1) == truth).float().mean())


def verdict(judge: VariantClassifier, projected: torch.Tensor, real_target: torch.Tensor, a: str, b: str) -> dict[str, Any]:
    """What one variant classifier says of images projected from A onto B, and of real B images."""
    probs, real = judge.probabilities(projected), judge.probabilities(real_target)
    src, dst = judge.labels.index(a), judge.labels.index(b)
    return {
        "labels": judge.labels,
        "classified_as_target": float((probs.argmax(1) == dst).float().mean()),
        "classified_as": {lab: float((probs.argmax(1) == i).float().mean()) for i, lab in enumerate(judge.labels)},
        "mean_target_probability": float(probs[:, dst].mean()),
        "prefers_target_over_source": float((probs[:, dst] > probs[:, src]).float().mean()),
        "real_target_classified_as_target": float((real.argmax(1) == dst).float().mean()),
    }


def evaluate_pair(model: ProjectionModel, judges: dict[str, VariantClassifier], shapes: ShapeClassifier, a: str,
                  b: str, cfg: DictConfig, out: Path) -> dict[str, Any]:
    """Project n held-out images of A onto B; measure class, content and the biased factors' distributions.

    ``judges``: 'pair' (a classifier of A against B, the one of the bar) and 'all_sets' (over every data set
    of the model; where data sets overlap, such as a cool object in the middle, not even real B images
    are all called B by it).
    """
    n = int(cfg.num_images)
    images, factors = load_variant(a).sample(n, seed=int(cfg.seed))
    src, dst = model.flow.label_index(a), model.flow.label_index(b)
    project = lambda x, t: model.project(x, torch.full((len(x),), src), torch.full((len(x),), t))  # noqa: E731
    onto_b = in_batches(lambda x: project(x, dst), images)
    recon = in_batches(lambda x: project(x, src), images)  # onto A itself: the autoencoder's reconstruction
    truth_px = torch.stack([factors.x, factors.y], 1) * images.shape[-1]
    measured = {name: measure(x) for name, x in [("input", images), ("projected", onto_b), ("reconstruction", recon)]}
    centroid_px = {k: float((torch.stack([m["x"], m["y"]], 1) * images.shape[-1] - truth_px).norm(dim=1).mean())
                   for k, m in measured.items()}
    real_b_images = load_variant(b).sample(n, seed=int(cfg.seed) + 1)[0]
    real_b = measure(real_b_images)
    shifts = {}
    for f in biased_factors(a, b):
        proj, src_real, dst_real = (m[f].numpy() for m in (measured["projected"], measured["input"], real_b))
        shifts[f] = {"w1_to_target": w1(f, proj, dst_real), "w1_to_source": w1(f, proj, src_real),
                     "w1_source_to_target": w1(f, src_real, dst_real)}
        shifts[f]["closer_to_target"] = shifts[f]["w1_to_target"] < shifts[f]["w1_to_source"]
    cls = {k: float((in_batches(shapes.predict, x) == factors.class_id).float().mean())
           for k, x in [("input", images), ("projected", onto_b), ("reconstruction", recon)]}
    same_position = load_variant(a).position == load_variant(b).position
    verdicts = {name: verdict(judge, onto_b, real_b_images, a, b) for name, judge in judges.items()}
    result = {
        "source": a, "target": b, "num_images": n,
        "classified_as_target": verdicts["pair"]["classified_as_target"],
        "judges": verdicts,
        "shape_class_preserved": cls["projected"],
        "shape_accuracy_input": cls["input"], "shape_accuracy_reconstruction": cls["reconstruction"],
        "centroid_error_px": centroid_px["projected"],
        "centroid_error_px_reconstruction": centroid_px["reconstruction"],
        "centroid_error_px_input_measurement": centroid_px["input"],
        "same_position_distribution": same_position,
        "biased_factors": shifts,
    }
    result["bars"] = {
        "classified_as_target>=0.9": result["classified_as_target"] >= 0.9,
        "shape_class_preserved>=0.9": result["shape_class_preserved"] >= 0.9,
        "centroid_error_px<=2": (result["centroid_error_px"] <= 2.0) if same_position else None,
        "biased_factors_closer_to_target": all(s["closer_to_target"] for s in shifts.values()) if shifts else None,
    }
    k = int(cfg.examples)
    save_grid(projection_grid(model, images[:k], torch.full((k,), src)), [f"input ({a})"] + model.labels,
              out / f"examples_{a}_to_{b}.png")
    return result


def bootstrap_interval(alphas: np.ndarray, p: np.ndarray, inside: np.ndarray) -> list[float]:
    """95% percentile interval of the pooled ρ over seeds resampled with replacement (fixed seed): how much
    the bar's number owes to which seeds were drawn."""
    rng = np.random.default_rng(0)
    rhos = [pooled_spearman(alphas, p[rng.integers(0, len(p), len(p))], inside) for _ in range(BOOTSTRAP_DRAWS)]
    return [float(np.percentile(rhos, 2.5)), float(np.percentile(rhos, 97.5))]


def drops(alphas: np.ndarray, probabilities: np.ndarray, inside: np.ndarray, labels: list[str], target: str) -> dict[str, Any]:
    """Where P(target) falls by more than DROP between neighbouring α of the trained range (``probabilities``:
    seeds, alphas, labels), and which other data set the judge moves to there: the reversals that cost the
    pooled ρ most."""
    t = labels.index(target)
    step = np.diff(probabilities[:, inside], axis=1)  # (seeds, alphas inside - 1, labels)
    seed_ids, alpha_ids = np.nonzero(step[:, :, t] < -DROP)
    others = [i for i in range(len(labels)) if i != t]
    gainer = np.array(others)[step[seed_ids, alpha_ids][:, others].argmax(1)] if len(seed_ids) else np.array([], int)
    dropping = np.isin(np.arange(len(probabilities)), seed_ids)
    return {
        "threshold": DROP, "seed_fraction": float(dropping.mean()), "count": int(len(seed_ids)),
        "moved_to": {labels[i]: float((gainer == i).mean()) for i in others} if len(seed_ids) else {},
        "spearman_seeds_without_drop": (pooled_spearman(alphas, probabilities[~dropping, :, t], inside)
                                        if (~dropping).any() else None),
    }


def evaluate_direction(judge: VariantClassifier, model: ProjectionModel, cfg: DictConfig, out: Path) -> dict[str, Any]:
    """Sweep a trained direction over held-out seeds and α; how the judge's P(target) follows α.

    ρ is the package's usual Spearman ρ between α and each seed's change from α = 0, pooled over seeds
    (as for every other direction, see ganalyze.evaluation.pooled_spearman), with a bootstrap interval over
    seeds; the per-seed median and the ρ of the mean curve are reported too, and the seeds whose P(target)
    drops along α. The projection model's typicality (log p(E(x)) per code dimension,
    ProjectionModel.typicality) along α, beside that of held-out real images, tells whether the walk stays
    among images like the data sets, where both the assessor and the judge mean something; the judge's P(target)
    on held-out real target images tells how high a walk's P(target) can be while its images stay like the target's
    (with five data sets, real cool images score 0.74 on average). Every per-seed array is written to
    out/direction_sweep.npz.
    """
    d = cfg.direction
    run_dir = Path(d.run_dir)
    run_cfg = OmegaConf.load(run_dir / "config.yaml")
    generator = build_generator(run_cfg.generator)
    transformer = load_transformer(run_dir / "transformer")
    settings = EvalSettings(num_seeds=int(d.num_seeds), alpha_scale=float(d.alpha_scale), num_alphas=int(d.num_alphas))
    z, y = latents_for_seeds(generator, held_out_seeds(settings.num_seeds))
    alpha_range = tuple(run_cfg.train.alpha_range)
    alphas = alpha_grid(alpha_range, settings.alpha_scale, settings.num_alphas)
    inside = (alphas >= alpha_range[0] - 1e-9) & (alphas <= alpha_range[1] + 1e-9)
    target = str(d.target)
    result = sweep(generator, transformer, TargetProbability(judge, target), z, y, alphas, settings,
                   world_tools(generator, "auto"), "direction")  # world tools: factors and shape class of every image
    p = result.scores  # (seeds, alphas)
    probabilities = np.stack([p if lab == target else  # (seeds, alphas, labels): where P(target) goes when it falls
                              sweep(generator, transformer, TargetProbability(judge, lab), z, y, alphas, settings, None,
                                    lab).scores for lab in judge.labels], axis=2)
    typical = sweep(generator, transformer, model.typicality, z, y, alphas, settings, None, "typicality").scores
    real = torch.cat([load_variant(name).sample(settings.num_seeds, seed=int(cfg.seed))[0] for name in model.labels])
    real_typical = in_batches(model.typicality, real).numpy()
    start = model.labels.index(target) * settings.num_seeds  # the judge on real target images: what the bar asks of walks
    real_p = in_batches(lambda x: judge.probabilities(x)[:, judge.labels.index(target)], real[start:start + settings.num_seeds]).numpy()
    per_seed = [spearmanr(alphas, row).statistic for row in p if np.ptp(row) > 0]
    change = change_metrics(alphas, p, inside)
    np.savez_compressed(out / "direction_sweep.npz", alphas=alphas, labels=np.array(judge.labels),
                        probabilities=probabilities, typicality=typical, class_id=y.numpy(),
                        **({"predicted_class": result.predicted} if result.predicted is not None else {}),
                        **{f"factor_{name}": values for name, values in result.factors.items()})
    report = {
        "run_dir": str(run_dir), "target": target, "assessor": OmegaConf.to_container(run_cfg.assessor),
        "judge_labels": judge.labels, "alpha_range": list(alpha_range), "alphas": alphas.tolist(),
        "num_seeds": settings.num_seeds, "mean_target_probability": p.mean(0).tolist(),
        "spearman": change["spearman"], "spearman_bootstrap_95": bootstrap_interval(alphas, p, inside),
        "monotonic_fraction": change["monotonic_fraction"],
        "spearman_of_mean": float(spearmanr(alphas, p.mean(0)).statistic),
        "spearman_per_seed_median": float(np.median(per_seed)) if per_seed else None,
        "drops": drops(alphas, probabilities, inside, judge.labels, target),
        "class_preserved": (float((result.predicted == y.numpy()[:, None]).mean())
                            if result.predicted is not None else None),
        "mean_typicality": typical.mean(0).tolist(),
        "real_typicality_median_and_5th_percentile": [float(np.median(real_typical)),
                                                      float(np.percentile(real_typical, 5))],
        "real_target_probability_mean_and_share_over_0.9": [float(real_p.mean()), float((real_p > 0.9).mean())],
    }
    report["bars"] = {"spearman>=0.8": report["spearman"] >= 0.8,
                      "mean_target_probability_low<0.05_high>0.9": bool(p.mean(0)[inside][0] < 0.05 and p.mean(0)[inside][-1] > 0.9)}
    if {"x", "y"} <= set(result.factors):  # does the walk move true centroids toward the middle? (issue 24)
        report.update(centering(result.factors["x"], result.factors["y"], alphas, inside))
        report["bars"]["centering_spearman>=0.8"] = report["centering_spearman"] >= 0.8
    return report


def centering(x: np.ndarray, y: np.ndarray, alphas: np.ndarray, inside: np.ndarray) -> dict[str, Any]:
    """How a walk moves measured centroids (seeds, alphas) toward the image's middle: the pooled Spearman ρ between
    α and each seed's decrease of |centroid − 0.5| from α = 0, the mean |centroid − 0.5| per α, and per α the share
    of seeds moved closer to / farther from the middle than at α = 0 by over MOVED (a ρ pooled over seeds needs both
    halves of α to move nearly every seed its way)."""
    off_centre = np.hypot(x - 0.5, y - 0.5)
    decrease = -change_from_zero(alphas, off_centre)
    return {"centering_spearman": pooled_spearman(alphas, -off_centre, inside),
            "mean_off_centre": off_centre.mean(0).tolist(),
            "share_moved_closer": (decrease > MOVED).mean(0).tolist(),
            "share_moved_farther": (decrease < -MOVED).mean(0).tolist()}


def numpy_scalar(value: Any) -> Any:
    """A numpy scalar (such as a bool of a comparison) as the Python value json can write."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@hydra.main(version_base="1.3", config_path="pkg://ganalyze.conf", config_name="projection/eval")
def main(cfg: DictConfig) -> None:
    """Evaluate every configured pair and write out_dir/eval_projection.json."""
    torch.set_num_threads(int(cfg.threads))
    out = Path(cfg.out_dir)
    model = ProjectionModel.from_pretrained(cfg.weights)
    all_sets, accuracy = variant_classifier(cfg, model.labels, out)
    accuracies = {"all_sets": accuracy}
    shapes = ShapeClassifier.from_pretrained(cfg.shape_classifier)
    pairs = []
    for a, b in cfg.pairs:
        pair, accuracies[f"{a}_{b}"] = variant_classifier(cfg, sorted([a, b]), out)  # one judge per pair
        pairs.append(evaluate_pair(model, {"pair": pair, "all_sets": all_sets}, shapes, a, b, cfg, out))
    report = {"weights": str(cfg.weights), "labels": model.labels,
              "variant_classifier_held_out_accuracy": accuracies, "pairs": pairs}
    if cfg.direction.run_dir is not None:
        report["direction"] = evaluate_direction(all_sets, model, cfg, out)
    (out / "eval_projection.json").write_text(json.dumps(report, indent=2, default=numpy_scalar) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
