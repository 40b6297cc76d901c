"""How well an object-centred projection autoencoder's numbers mean what they should, per world data set.

For held-out images of each data set: Spearman ρ of the pose numbers (x, y, log-scale) with the true centroid and
size, the mean blur σ the encoder reads, the reconstruction MSE, and the mean sharpness (mean |Laplacian|) of real
images and of reconstructions (before pixel noise). Then, on clean images degraded by a known blur and noise
(degradation.degrade, never seen by the model as labels): the mean blur σ read at each applied σ, Spearman ρ of the
blur number with the applied σ, the true-centroid error and size ρ of the degraded images' pose, and the shape class
(shipped classifier) of the degraded images' content drawn at the clean images' blur. Example:
    OMP_NUM_THREADS=1 python scripts/probe_object_code.py runs/projection/oc1/model/autoencoder
"""

from __future__ import annotations

import argparse
import json

import torch
from scipy.stats import spearmanr

from ganalyze.audit.name_that_dataset import sharpness
from ganalyze.projection.broadcast import load_autoencoder
from ganalyze.projection.blur import blur, blur_of
from ganalyze.projection.degradation import swapped
from ganalyze.projection.object_centred import POSE_DIM, ObjectCentredAutoEncoder, pose_of
from ganalyze.world import load_variant
from ganalyze.world.classifier import ShapeClassifier

SETS = ["warm", "cool", "centered", "size_narrow", "low_quality"]
APPLIED = (0.1, 0.4, 0.7, 1.0)  # σ (px) of the blur applied in the degradation probe


@torch.no_grad()
def probe(ae: ObjectCentredAutoEncoder, name: str, n: int, seed: int) -> dict[str, float]:
    """The numbers above for ``n`` images of world variant ``name`` drawn with ``seed``."""
    images, truth = load_variant(name).sample(n, seed=seed, resolution=ae.resolution)
    mean = ae.encode(images)
    pose = pose_of(mean[:, :POSE_DIM])
    recon = ae.decode(mean)
    return {"rho_x": float(spearmanr(pose[:, 0], truth.x).statistic),
            "rho_y": float(spearmanr(pose[:, 1], truth.y).statistic),
            "rho_log_scale_size": float(spearmanr(pose[:, 2], truth.size).statistic),
            "blur_sigma_px": float(blur_of(mean[:, ae.nuisance_dim - 1]).mean()),
            "reconstruction_mse": float((recon - images).pow(2).mean()),
            "sharpness_real": float(sharpness(images).mean()), "sharpness_reconstructed": float(sharpness(recon).mean())}


@torch.no_grad()
def degradation_probe(ae: ObjectCentredAutoEncoder, n: int, seed: int) -> dict[str, object]:
    """``n`` clean (broad) images per applied σ in APPLIED, blurred and given noise of std 0.04: blur read per σ,
    ρ(blur number, applied σ), centroid error (px) and size ρ of the degraded images' pose, and the share of
    degraded images whose content, drawn at the clean image's blur, the shipped shape classifier names correctly."""
    images, truth = load_variant("broad").sample(n, seed=seed, resolution=ae.resolution)
    clean = ae.encode(images)
    judge, q = ShapeClassifier.from_pretrained(), ae.nuisance_dim - 1
    gen = torch.Generator().manual_seed(seed)
    rows, numbers, applied = {}, [], []
    for sigma in APPLIED:
        noisy = (blur(images, torch.full((n,), sigma)) + 0.04 * torch.randn(images.shape, generator=gen)).clamp(0, 1)
        code = ae.encode(noisy)
        pose = pose_of(code[:, :POSE_DIM])
        centroid = (pose[:, :2] + 1) / 2
        error = ((centroid - torch.stack([truth.x, truth.y], 1).float()).pow(2).sum(1).sqrt() * ae.resolution).mean()
        kept = (judge.predict(ae.decode(swapped(code, clean, q))) == truth.class_id).float().mean()
        rows[f"{sigma}"] = {"blur_sigma_px": float(blur_of(code[:, q]).mean()), "centroid_error_px": float(error),
                            "rho_log_scale_size": float(spearmanr(pose[:, 2], truth.size).statistic),
                            "shape_class_kept": float(kept)}
        numbers.append(code[:, q])
        applied.append(torch.full((n,), sigma))
    rho = spearmanr(torch.cat(numbers), torch.cat(applied)).statistic
    return {"noise_std": 0.04, "by_applied_sigma": rows, "rho_blur_number_applied_sigma": float(rho),
            "clean_shape_class_kept": float((judge.predict(ae.decode(clean)) == truth.class_id).float().mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("autoencoder", help="a model/autoencoder folder of an object-centred projection model")
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=777)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ae = load_autoencoder(args.autoencoder)
    if not isinstance(ae, ObjectCentredAutoEncoder):
        raise SystemExit(f"{args.autoencoder} holds no object-centred autoencoder (autoencoder.model.object_centred=true).")
    result = {name: probe(ae, name, args.images, args.seed) for name in SETS}
    print(json.dumps({**result, "degradation": degradation_probe(ae, args.images, args.seed)}, indent=2))


if __name__ == "__main__":
    main()
