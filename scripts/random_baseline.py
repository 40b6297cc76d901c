"""Why a random direction of θ's norm moves the true object size on the shapes world, measured.

Sweeps many random directions exactly as the evaluation draws them (random_like: isotropic in z, θ's norm;
the first ones are the evaluation's own draws) over the held-out seeds and the trained α range, and computes
the evaluation's pooled Spearman ρ(α, Δ true size) for each. Alongside: each draw's cosine with the mean size
gradient ḡ (central differences of the measured size), how consistent the size gradient is across seeds
(‖ḡ‖² / mean ‖g_i‖²), ρ with the norm scaled down, ρ within one class, the per-seed ρ, how much a random
direction moves the images compared with θ, and two models: the measured gradients with their seed-consistent
part scaled, and a linear isotropic response in d latent directions (which d matches the measurement). Writes <run>/random_baseline/{random_baseline.json, rho_vs_cos.png}.

    OMP_NUM_THREADS=1 python scripts/random_baseline.py <run folder> [draws]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from omegaconf import OmegaConf
from scipy.stats import norm, spearmanr
from tqdm import tqdm

from ganalyze.evaluation import EvalSettings, alpha_grid, pooled_spearman, zero_index
from ganalyze.figures import save_figure
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.sampling import held_out_seeds, latents_for_seeds, stream_seed
from ganalyze.transformers import load_transformer
from ganalyze.transformers.base import random_rows_like
from ganalyze.world.measure import measure

NORM_SCALES = (1.0, 0.5, 0.25)  # random directions of θ's norm times these
GRADIENT_STEP = 0.05  # central-difference step per latent coordinate
LINEAR_SCALES = (1.0, 0.75, 0.6, 0.5, 0.45, 0.4, 0.35, 0.25)  # scales of the mean size gradient in the linear model


@torch.no_grad()
def size_sweep(generator: ShapesGenerator, z: torch.Tensor, y: torch.Tensor, direction: torch.Tensor,
               alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Measured true size (seeds, alphas) and RMS pixel change from α = 0 (alphas,) along ``direction``."""
    images = [generator(z + float(a) * direction, y) for a in alphas]
    sizes = np.stack([measure(im)["size"].numpy() for im in images], axis=1)
    base = images[zero_index(alphas)]
    rms = np.array([float((im - base).pow(2).mean().sqrt()) for im in images])
    return sizes, rms


@torch.no_grad()
def size_gradients(generator: ShapesGenerator, z: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """d size / dz per seed (seeds, dim_z), by central differences of the measured size."""
    columns = []
    for k in range(generator.dim_z):
        step = GRADIENT_STEP * torch.eye(generator.dim_z)[k]
        plus, minus = measure(generator(z + step, y))["size"], measure(generator(z - step, y))["size"]
        columns.append(((plus - minus) / (2 * GRADIENT_STEP)).numpy())
    return np.stack(columns, axis=1)


def rho(alphas: np.ndarray, sizes: np.ndarray) -> float:
    """The evaluation's pooled Spearman ρ of Δ size vs α (every α given lies in the trained range)."""
    return pooled_spearman(alphas, sizes, np.ones(len(alphas), dtype=bool))


def per_seed_rho(alphas: np.ndarray, sizes: np.ndarray) -> float:
    """Mean over seeds of each seed's own Spearman ρ of size vs α (0 for a seed whose size does not move)."""
    values = [spearmanr(alphas, row).statistic if np.ptp(row) > 0 else 0.0 for row in sizes]
    return float(np.mean(values))


def consistency(gradients: np.ndarray) -> float:
    """‖mean gradient‖² / mean ‖gradient‖²: 1 when every seed's size responds to z alike, ~0 when at random."""
    return float((gradients.mean(0) ** 2).sum() / (gradients ** 2).sum(1).mean())


def linear_tradeoff(gradients: np.ndarray, units: np.ndarray, alphas: np.ndarray) -> list[dict[str, float]]:
    """The linear model Δsize_i = α g_i·u with the seed-consistent part ḡ scaled by λ (spread kept as measured):
    per λ, ρ of the best linear direction u* = Σ⁻¹ḡ and the mean |ρ| of the random unit directions ``units``.

    Tells whether any generator with this gradient geometry could meet both bars (trained ρ ≥ 0.9, random ≤ 0.2).
    """
    mean = gradients.mean(0)
    spread = gradients - mean
    cov = spread.T @ spread / len(gradients) + 1e-6 * np.eye(len(mean)) * np.trace(spread.T @ spread) / len(gradients)
    best = np.linalg.solve(cov, mean)
    rows = []
    for scale in LINEAR_SCALES:
        scaled = spread + scale * mean
        rows.append({"mean_gradient_scale": scale, "consistency": consistency(scaled),
                     "best_direction_rho": rho(alphas, alphas[None, :] * (scaled @ best)[:, None]),
                     "random_mean_abs_rho": float(np.mean([abs(rho(alphas, alphas[None, :] * (scaled @ u)[:, None]))
                                                           for u in units]))})
    return rows


def isotropic_random_rho(best_rho: float, dim: int, samples: int = 20000) -> float:
    """Mean |ρ| of random directions when the size response is linear and isotropic in ``dim`` latent directions
    and the best direction reaches ``best_rho`` (ρ ≈ 2Φ(m/σ) - 1 for a seed-consistent mean m and spread σ)."""
    u = np.random.default_rng(0).standard_normal((samples, dim))
    cos = u[:, 0] / np.linalg.norm(u, axis=1)
    return float(np.mean(np.abs(2 * norm.cdf(norm.ppf((1 + best_rho) / 2) * cos) - 1)))


def matching_dimension(best_rho: float, random_rho: float, dims: range = range(2, 129)) -> int:
    """The number of isotropic latent directions whose model gives the measured mean random |ρ|."""
    return min(dims, key=lambda d: abs(isotropic_random_rho(best_rho, d) - random_rho))


def run(run_dir: Path, draws: int) -> dict:
    """Measure everything for the run's θ and ``draws`` random directions; return the report."""
    cfg = OmegaConf.load(run_dir / "config.yaml")
    settings = EvalSettings(num_seeds=cfg.eval.num_seeds, alpha_scale=cfg.eval.alpha_scale, num_alphas=cfg.eval.num_alphas)
    alpha_range = tuple(cfg.train.alpha_range)
    grid = alpha_grid(alpha_range, settings.alpha_scale, settings.num_alphas)
    alphas = grid[(grid >= alpha_range[0] - 1e-9) & (grid <= alpha_range[1] + 1e-9)]
    generator = ShapesGenerator.from_pretrained(cfg.generator.folder)
    z, y = latents_for_seeds(generator, held_out_seeds(settings.num_seeds))
    theta = load_transformer(run_dir / "transformer").theta.detach()
    gradients = size_gradients(generator, z, y)
    mean_gradient = gradients.mean(0)
    trained_sizes, trained_rms = size_sweep(generator, z, y, theta[0], alphas)
    classes = y.numpy()

    rows, units = [], []
    for k in tqdm(range(draws), desc="random directions"):
        unit = random_rows_like(theta, torch.Generator().manual_seed(stream_seed(cfg.seed, "random_direction", k)))[0]
        row = {"draw": k, "cos_mean_gradient": float(unit @ torch.from_numpy(mean_gradient).float()
                                                     / (unit.norm() * np.linalg.norm(mean_gradient))),
               "cos_theta": float(unit @ theta[0] / (unit.norm() * theta[0].norm()))}
        for scale in NORM_SCALES:
            sizes, rms = size_sweep(generator, z, y, scale * unit, alphas)
            row[f"rho_x{scale}"] = rho(alphas, sizes)
            if scale == 1.0:
                row["rms_ratio_to_theta"] = float(rms[-1] / trained_rms[-1])
                row["per_seed_rho"] = per_seed_rho(alphas, sizes)
                row["rho_by_class"] = [rho(alphas, sizes[classes == c]) for c in range(generator.num_classes)]
                linear = alphas[None, :] * (gradients @ unit.numpy())[:, None]
                row["rho_linear_model"] = rho(alphas, linear)
        rows.append(row)
        units.append((unit / unit.norm()).numpy())

    def mean_abs(key: str) -> float:
        return float(np.mean([abs(r[key]) for r in rows]))

    summary = {
        "theta_norm": float(theta.norm()), "alphas": alphas.tolist(), "draws": draws,
        "trained_rho": rho(alphas, trained_sizes),
        "gradient_consistency_all": consistency(gradients),
        "gradient_consistency_by_class": [consistency(gradients[classes == c]) for c in range(generator.num_classes)],
        "cos_theta_mean_gradient": float(theta[0] @ torch.from_numpy(mean_gradient).float()
                                         / (theta[0].norm() * np.linalg.norm(mean_gradient))),
        **{f"mean_abs_rho_x{s}": mean_abs(f"rho_x{s}") for s in NORM_SCALES},
        "fraction_abs_rho_le_0.2": float(np.mean([abs(r["rho_x1.0"]) <= 0.2 for r in rows])),
        "median_abs_rho": float(np.median([abs(r["rho_x1.0"]) for r in rows])),
        "mean_abs_rho_within_one_class": float(np.mean([abs(v) for r in rows for v in r["rho_by_class"]])),
        "mean_abs_per_seed_rho": mean_abs("per_seed_rho"),
        "mean_abs_rho_linear_model": mean_abs("rho_linear_model"),
        "corr_rho_measured_vs_linear_model": float(np.corrcoef([r["rho_x1.0"] for r in rows],
                                                               [r["rho_linear_model"] for r in rows])[0, 1]),
        "spearman_abs_rho_vs_abs_cos": float(spearmanr([abs(r["rho_x1.0"]) for r in rows],
                                                       [abs(r["cos_mean_gradient"]) for r in rows]).statistic),
        "mean_rms_ratio_to_theta": float(np.mean([r["rms_ratio_to_theta"] for r in rows])),
    }
    summary["mean_abs_cos_mean_gradient"] = mean_abs("cos_mean_gradient")
    summary["isotropic_model_dimension"] = matching_dimension(summary["trained_rho"], summary["mean_abs_rho_x1.0"])
    summary["isotropic_model_random_rho_at_dim_z_best_0.9"] = isotropic_random_rho(0.9, generator.dim_z)
    return {"summary": summary, "linear_tradeoff": linear_tradeoff(gradients, np.stack(units), alphas), "draws": rows}


def plot(report: dict, path: Path) -> None:
    """Scatter of each random draw's |ρ| against its |cos| with the mean size gradient, per norm scale."""
    fig, ax = plt.subplots(figsize=(5, 4))
    cos = [abs(r["cos_mean_gradient"]) for r in report["draws"]]
    for scale in NORM_SCALES:
        ax.scatter(cos, [abs(r[f"rho_x{scale}"]) for r in report["draws"]], s=12, label=f"norm × {scale}")
    ax.axhline(0.2, color="k", lw=0.8, ls="--")
    ax.set(xlabel="|cos(random direction, mean size gradient)|", ylabel="|Spearman ρ(α, Δ true size)|",
           title="random directions on the shapes world")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def main(args: list[str]) -> None:
    """Run, save JSON and PNG under <run>/random_baseline, print the summary."""
    torch.set_num_threads(1)
    run_dir = Path(args[0])
    report = run(run_dir, int(args[1]) if len(args) > 1 else 50)
    out = run_dir / "random_baseline"
    out.mkdir(exist_ok=True)
    (out / "random_baseline.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, out / "rho_vs_cos.png")
    for key, value in report["summary"].items():
        print(f"{key:<36} {np.round(value, 3).tolist() if isinstance(value, list) else round(value, 4)}")
    for row in report["linear_tradeoff"]:
        print("linear model: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print(f"written to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
