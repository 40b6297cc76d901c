"""Train the embedded shapes generator: a class-conditional σ-VAE, then a Gaussian per class on its codes.

Fresh images of the world variant every step (seeded by step, so a resumed run is identical to an
uninterrupted one), one CPU thread, atomic checkpoints. Example (the shipped weights):
    OMP_NUM_THREADS=1 python scripts/train_shapes_generator.py out_dir=ganalyze/weights/shapes_generator
"""

from __future__ import annotations

import time
from pathlib import Path

import hydra
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from tqdm import trange

from ganalyze.checkpoint import load_checkpoint, save_checkpoint
from ganalyze.lr_schedule import warmup_cosine_schedule
from ganalyze.generators.shapes import ShapesEncoder, ShapesGenerator
from ganalyze.world import SHAPE_NAMES, load_variant

FIT_SEED_OFFSET = 10**9  # the images that fit the per-class Gaussians are never training images


def sigma_vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
                   beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO per pixel value with the optimal shared σ² = batch MSE (σ-VAE); returns (loss, mse, kl)."""
    mse = F.mse_loss(x_hat, x)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    loss = 0.5 * torch.log(mse) + beta * kl / x[0].numel()
    return loss, mse, kl


@torch.no_grad()
def fit_prior(generator: ShapesGenerator, encoder: ShapesEncoder, cfg: DictConfig) -> None:
    """Fit each class's Gaussian to the encoder means of ``cfg.fit_samples`` fresh real images."""
    images, factors = load_variant(cfg.variant).sample(cfg.fit_samples, seed=FIT_SEED_OFFSET + cfg.seed)
    classes = factors.class_id.long()
    codes = torch.cat([encoder(x, y)[0] for x, y in zip(images.split(500), classes.split(500))])
    generator.fit_latent_prior(codes, classes)


def train(cfg: DictConfig) -> Path:
    """Run (or resume) training as configured, write the generator with save_pretrained, return its folder."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    variant = load_variant(cfg.variant)
    model_cfg = dict(OmegaConf.to_container(cfg.model), num_classes=len(SHAPE_NAMES))
    generator = ShapesGenerator(**model_cfg)
    encoder = ShapesEncoder(**{k: model_cfg[k] for k in ("dim_z", "num_classes", "resolution", "width", "embed_dim")})
    params = list(encoder.parameters()) + list(generator.decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    scheduler = warmup_cosine_schedule(optimizer, cfg.warmup_steps, cfg.steps)
    start, ckpt_path = 0, Path(cfg.checkpoint)
    if cfg.resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        encoder.load_state_dict(state["encoder"])
        generator.decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]
        print(f"resumed from {ckpt_path} at step {start}", flush=True)
    t0 = time.perf_counter()
    bar = trange(start, cfg.steps, initial=start, total=cfg.steps, mininterval=cfg.progress_interval,
                 desc="shapes σ-VAE")
    for step in bar:
        images, factors = variant.sample(cfg.batch_size, seed=cfg.seed * 10_000_000 + step)
        classes = factors.class_id.long()
        mean, logvar = encoder(images, classes)
        noise = torch.randn(mean.shape, generator=torch.Generator().manual_seed(cfg.seed * 10_000_000 + step))
        recon = generator.decoder(mean + (0.5 * logvar).exp() * noise, classes)
        loss, mse, kl = sigma_vae_loss(recon, images, mean, logvar, cfg.beta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", mse=f"{mse.item():.5f}", kl=f"{kl.item():.1f}", refresh=False)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_checkpoint({"step": step + 1, "encoder": encoder.state_dict(), "decoder": generator.decoder.state_dict(),
                             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, ckpt_path)
    print(f"trained steps {start}..{cfg.steps} in {time.perf_counter() - t0:.0f} s", flush=True)
    encoder.eval()
    generator.eval()
    fit_prior(generator, encoder, cfg)
    out = generator.save_pretrained(cfg.out_dir)
    print(f"wrote {out}", flush=True)
    return out


@hydra.main(config_path="pkg://ganalyze.conf", config_name="train_shapes_generator", version_base=None)
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    train(cfg)


if __name__ == "__main__":
    main()
