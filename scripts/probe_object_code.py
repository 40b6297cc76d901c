"""How well an object-centred projection autoencoder's numbers mean what they should, per world data set.

For held-out images of each data set: Spearman ρ of the pose numbers (x, y, log-scale) with the true centroid and
size, the mean blur σ the encoder reads, the reconstruction MSE, and the mean sharpness (mean |Laplacian|) of real
images and of reconstructions (before pixel noise). Example:
    OMP_NUM_THREADS=1 python scripts/probe_object_code.py runs/projection/oc1/model/autoencoder
"""

from __future__ import annotations

import argparse
import json

import torch
from scipy.stats import spearmanr

from ganalyze.audit.name_that_dataset import sharpness
from ganalyze.projection.broadcast import load_autoencoder
from ganalyze.projection.object_centred import POSE_DIM, ObjectCentredAutoEncoder, blur_of, pose_of
from ganalyze.world import load_variant

SETS = ["warm", "cool", "centered", "size_narrow", "low_quality"]


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
    print(json.dumps({name: probe(ae, name, args.images, args.seed) for name in SETS}, indent=2))


if __name__ == "__main__":
    main()
