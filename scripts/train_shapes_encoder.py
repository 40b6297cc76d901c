"""Train the encoder that starts the inversion of shapes-world images: image -> z of the shipped shapes generator.

Each step mixes fresh rendered world images (the images users invert; loss: the inversion loss of G(E(x), y)
against x, through the frozen generator) and generator samples with known z (loss: that reconstruction plus
the error of the predicted z), so the encoder lands in the sampling space and near the image. Seeded by step
(a resumed run is identical to an uninterrupted one), one CPU thread, atomic checkpoints. The shipped weights:
    OMP_NUM_THREADS=1 python scripts/train_shapes_encoder.py --out ganalyze/weights/shapes_encoder
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm import trange

from ganalyze.atomic import write_json
from ganalyze.checkpoint import resume_training_state, save_training_state
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.inversion.encoder import LatentEncoder, generator_fingerprint
from ganalyze.inversion.loss import psnr, reconstruction_loss
from ganalyze.lr_schedule import warmup_cosine_schedule
from ganalyze.world import load_variant

SEED_OFFSET = 5 * 10**9  # training images: disjoint from the generator's, the classifier's and the evaluation's
HELDOUT_SEED = 6 * 10**9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings (defaults: the shipped encoder)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch-size", type=int, default=32, help="rendered images per step (as many generated ones)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--latent-weight", type=float, default=0.01, help="weight of the z error on generated images")
    p.add_argument("--gradient-weight", type=float, default=1.0, help="weight of the loss's image-gradient term")
    p.add_argument("--variant", default="broad", help="world variant of the rendered images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default="runs/shapes_encoder/checkpoint.pt")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--out", default="runs/shapes_encoder/final")
    return p.parse_args(argv)


def step_loss(encoder: LatentEncoder, generator: ShapesGenerator, step: int, args: argparse.Namespace) -> dict[str, torch.Tensor]:
    """The loss of one step on fresh rendered and generated images, seeded by the step."""
    seed = SEED_OFFSET + args.seed * 10**7 + step
    real, factors = load_variant(args.variant).sample(args.batch_size, seed=seed, resolution=generator.resolution)
    y_real = factors.class_id.long()
    z_gen, y_gen = generator.sample_latents(args.batch_size, seed=seed)
    with torch.no_grad():
        fake = generator(z_gen, y_gen)
    images, y = torch.cat([real, fake]), torch.cat([y_real, y_gen])
    z = encoder(images, y)
    recon = reconstruction_loss(generator(z, y), images, args.gradient_weight)
    latent = (z[len(real):] - z_gen).pow(2).mean()
    return {"loss": recon.mean() + args.latent_weight * latent, "real": recon[: len(real)].mean(), "latent": latent}


@torch.no_grad()
def heldout_report(encoder: LatentEncoder, generator: ShapesGenerator, variant: str, n: int = 500) -> dict[str, float]:
    """Mean PSNR of G(E(x)) on fresh rendered images (encoder alone, no optimisation)."""
    images, factors = load_variant(variant).sample(n, seed=HELDOUT_SEED, resolution=generator.resolution)
    y = factors.class_id.long()
    return {"heldout_psnr_encoder_only": float(psnr(generator(encoder(images, y), y), images).mean()), "n": n}


def train(args: argparse.Namespace) -> Path:
    """Train (or resume) the encoder, write it with save_pretrained and its held-out PSNR; return its folder."""
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    generator = ShapesGenerator.from_pretrained()
    encoder = LatentEncoder(generator.dim_z, generator.num_classes, generator.resolution,
                            generator=generator_fingerprint(generator))
    optimizer = torch.optim.Adam(encoder.parameters(), lr=args.lr)
    scheduler = warmup_cosine_schedule(optimizer, max(1, args.steps // 20), args.steps)
    start, ckpt = 0, Path(args.checkpoint)
    if ckpt.is_file():
        start = resume_training_state(ckpt, encoder=encoder, optimizer=optimizer, scheduler=scheduler)
        print(f"resumed from {ckpt} at step {start}", flush=True)
    t0 = time.perf_counter()
    bar = trange(start, args.steps, initial=start, total=args.steps, mininterval=30, desc="shapes encoder")
    for step in bar:
        parts = step_loss(encoder, generator, step, args)
        optimizer.zero_grad(set_to_none=True)
        parts["loss"].backward()
        optimizer.step()
        scheduler.step()
        bar.set_postfix({k: f"{v.item():.5f}" for k, v in parts.items()}, refresh=False)
        if (step + 1) % args.checkpoint_every == 0 or step + 1 == args.steps:
            save_training_state(ckpt, step + 1, encoder=encoder, optimizer=optimizer, scheduler=scheduler)
    print(f"trained steps {start}..{args.steps} in {time.perf_counter() - t0:.0f} s", flush=True)
    encoder.eval()
    out = encoder.save_pretrained(args.out)
    report = heldout_report(encoder, generator, args.variant)
    write_json(out / "training_report.json", {**report, "settings": vars(args)})
    print(f"wrote {out}: {report}", flush=True)
    return out


if __name__ == "__main__":
    train(parse_args())
