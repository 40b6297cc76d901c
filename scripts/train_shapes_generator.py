"""Train the embedded shapes generator: a class-conditional σ-VAE, then a Gaussian and a flow per class on its codes.

Fresh images of the world variant every step (seeded by step, so a resumed run is identical to an
uninterrupted one), one CPU thread, atomic checkpoints. Example (the shipped weights):
    OMP_NUM_THREADS=1 python scripts/train_shapes_generator.py out_dir=ganalyze/weights/shapes_generator
With a list of variants (variant=[broad,warm]) the generator is conditioned on the variant too: class id =
variant index x number of shapes + shape, every batch an even share of each variant (ganalyze-steer-bias).
With imle.weight > 0 (ganalyze.imle) rare examples of a minority set get the IMLE and interpolation terms too:
    OMP_NUM_THREADS=1 python scripts/train_shapes_generator.py variant=rare_class imle.weight=1 imle.minority.shape=star
With loss=gan the same decoder is trained adversarially instead (hinge loss against a spectral-norm
projection discriminator, ganalyze.generators.shapes_discriminator) on the prior N(0, I); it saves and loads
like the σ-VAE's generator (no encoder, no fitted latent law), and takes the imle options too:
    OMP_NUM_THREADS=1 python scripts/train_shapes_generator.py loss=gan variant=rare_square model.flow_layers=0
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
from ganalyze.errors import ConfigError
from ganalyze.imle import MinoritySpec, imle_terms, minority_mask, pixel_features
from ganalyze.lr_schedule import warmup_cosine_schedule
from ganalyze.generators.shapes import TRUNCATED_NORMAL_STD, ShapesEncoder, ShapesGenerator
from ganalyze.generators.shapes_discriminator import (ShapesDiscriminator, hinge_discriminator_loss,
                                                      hinge_generator_loss)
from ganalyze.world import SHAPE_NAMES, load_variant

FIT_SEED_OFFSET = 10**9  # the images that fit the latent law are never training images
MINORITY_SEED_OFFSET = 3 * 10**9  # the real pool the minority set is taken from


def sigma_vae_loss(x_hat: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor,
                   beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO per pixel value with the optimal shared σ² = batch MSE (σ-VAE); returns (loss, mse, kl)."""
    mse = F.mse_loss(x_hat, x)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
    loss = 0.5 * torch.log(mse) + beta * kl / x[0].numel()
    return loss, mse, kl


def variant_names(value: str | list[str]) -> list[str]:
    """The configured variant(s) as a list of names."""
    return [value] if isinstance(value, str) else [str(v) for v in value]


def sample_real(names: list[str], n: int, seed: int, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n real images and their class ids; several variants share n evenly, class ids offset by variant index."""
    if len(names) == 1:
        images, factors = load_variant(names[0]).sample(n, seed=seed, resolution=resolution)
        return images, factors.class_id.long()
    parts = []
    for i, name in enumerate(names):
        count = n // len(names) + (i < n % len(names))
        images, factors = load_variant(name).sample(count, seed=seed * len(names) + i, resolution=resolution)
        parts.append((images, factors.class_id.long() + i * len(SHAPE_NAMES)))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def minority_set(cfg: DictConfig) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The real images (and class ids) of ``cfg.imle.minority`` among ``cfg.imle.real_pool`` seeded draws of the
    variant; None when neither IMLE term is weighted (no minority set is drawn)."""
    if cfg.imle.weight <= 0 and cfg.imle.interpolation_weight <= 0:
        return None
    names = variant_names(cfg.variant)
    if len(names) != 1:
        raise ConfigError(f"imle needs one world variant (the data whose minority it keeps), got variant={names}.")
    if cfg.imle.pool_size < cfg.imle.batch_size:
        raise ConfigError(f"imle.pool_size ({cfg.imle.pool_size}) must be at least imle.batch_size "
                          f"({cfg.imle.batch_size}), so that every class of a batch has generated samples to match.")
    spec = MinoritySpec(**OmegaConf.to_container(cfg.imle.minority))
    images, factors = load_variant(names[0]).sample(cfg.imle.real_pool, seed=MINORITY_SEED_OFFSET + cfg.seed,
                                                    resolution=cfg.model.resolution)
    mask = minority_mask(factors, spec)
    if int(mask.sum()) < 2:
        raise ConfigError(f"imle.minority={spec} selects {int(mask.sum())} of the {cfg.imle.real_pool} real images of "
                          f"{names[0]}; it needs at least 2 (widen the range or raise imle.real_pool).")
    print(f"minority set: {int(mask.sum())} of {cfg.imle.real_pool} real images ({spec})", flush=True)
    return images[mask], factors.class_id.long()[mask]


def weighted_minority_loss(generator: ShapesGenerator, minority: tuple[torch.Tensor, torch.Tensor] | None,
                           cfg: DictConfig, step_seed: int, shown: dict[str, str],
                           encoder: ShapesEncoder | None = None,
                           posteriors: torch.Tensor | None = None) -> torch.Tensor | float:
    """imle.weight × IMLE + imle.interpolation_weight × interpolation on a seeded batch of the minority set
    (ganalyze.imle; 0 without one), both terms added to the progress bar's ``shown``. With imle.match=code the
    examples are matched to the pool by ``encoder``'s codes (no gradient reaches the encoder through them);
    with imle.pool_law=posterior the pool is drawn from ``posteriors`` (the minority set's encoder posteriors at the last refit)."""
    if minority is None:
        return 0.0
    gen = torch.Generator().manual_seed(step_seed + 1)
    idx = torch.randint(len(minority[0]), (cfg.imle.batch_size,), generator=gen)
    real, classes = minority[0][idx], minority[1][idx]
    pool_latents = torch.randn(cfg.imle.pool_size, cfg.model.dim_z, generator=gen)
    pool_classes = classes[torch.arange(cfg.imle.pool_size) % len(classes)]  # every class of the batch is in the pool
    if cfg.imle.pool_law == "fitted":  # codes drawn as the saved generator will draw them: μ_y + L_y·ε
        pool_latents = generator.latent_code(pool_latents * generator.z_std, pool_classes)
    elif cfg.imle.pool_law == "posterior":  # codes drawn from the posteriors of random minority images: μ_j + σ_j·ε
        j = torch.randint(len(posteriors), (cfg.imle.pool_size,), generator=gen)
        pool_latents = posteriors[j, 0] + (0.5 * posteriors[j, 1]).exp() * pool_latents
        pool_classes = minority[1][j]
    mix = torch.rand(len(real), generator=gen) if cfg.imle.interpolation_weight > 0 else None
    real_codes = None
    if cfg.imle.match == "code":
        with torch.no_grad():
            real_codes = encoder(real, classes)[0]
    terms = imle_terms(generator.decoder, lambda x: pixel_features(x, cfg.imle.feature_resolution), real, classes,
                       pool_latents, pool_classes, mix, real_codes)
    shown.update(imle=f"{terms.imle.item():.3f}", interp=f"{terms.interpolation.item():.3f}")
    return cfg.imle.weight * terms.imle + cfg.imle.interpolation_weight * terms.interpolation


def refit_minority_law(generator: ShapesGenerator, posteriors: torch.Tensor,
                       minority: tuple[torch.Tensor, torch.Tensor], cfg: DictConfig) -> None:
    """With imle.pool_law=fitted, fit the minority classes' Gaussians to their images' current codes: the law the
    saved generator will sample them from, so IMLE's pool lies where the generator's samples will."""
    if cfg.imle.pool_law == "fitted":
        generator.fit_latent_gaussians(posteriors[:, 0], minority[1])


def check_imle_options(cfg: DictConfig) -> None:
    """imle.pool_law is prior, fitted or posterior, imle.match is features or code, and all but prior and features
    need an encoder."""
    if cfg.imle.pool_law not in ("prior", "fitted", "posterior"):
        raise ConfigError(f"imle.pool_law={cfg.imle.pool_law!r} is not known; use prior (IMLE's pool drawn from "
                          "N(0, I)), fitted (from the minority classes' Gaussians of their current codes) or posterior "
                          "(from the encoder's posteriors of random minority images).")
    if cfg.imle.match not in ("features", "code"):
        raise ConfigError(f"imle.match={cfg.imle.match!r} is not known; use features (nearest decoded sample in the "
                          "imle.feature_resolution pixel space, as IMLE-GAN) or code (nearest pool latent to the "
                          "encoder's code of the real example).")
    with_codes = [f"imle.pool_law={cfg.imle.pool_law}"] * (cfg.imle.pool_law != "prior") + \
        ["imle.match=code"] * (cfg.imle.match == "code")
    if with_codes and cfg.loss != "vae":
        raise ConfigError(f"loss={cfg.loss} trains no encoder, but {' and '.join(with_codes)} draw on an encoder's "
                          "codes; use imle.pool_law=prior and imle.match=features.")
    if not 0 <= cfg.imle.start_step < cfg.steps:
        raise ConfigError(f"imle.start_step={cfg.imle.start_step} must be in [0, steps={cfg.steps}): the step from "
                          "which the IMLE terms join the loss (0: from the first step).")


@torch.no_grad()
def encode_real(encoder: ShapesEncoder, cfg: DictConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder means and classes of ``cfg.fit_samples`` fresh real images (never training images)."""
    images, classes = sample_real(variant_names(cfg.variant), cfg.fit_samples, FIT_SEED_OFFSET + cfg.seed,
                                  cfg.model.resolution)
    return encoder.posteriors(images, classes)[:, 0], classes


def fit_latent_law(generator: ShapesGenerator, codes: torch.Tensor, classes: torch.Tensor,
                   cfg: DictConfig) -> dict[str, float]:
    """Fit the per-class Gaussians to the codes, then train the flow on the standardised codes by likelihood.

    A tenth of the codes is held out; returns (and prints) their negative log-likelihood per dimension under
    the Gaussian alone (the untrained flow is the identity) and after training the flow.
    """
    generator.fit_latent_gaussians(codes, classes)
    u = generator.standardise(codes, classes)
    n_train = len(u) - len(u) // 10
    held_u, held_y = u[n_train:], classes[n_train:]
    flow = generator.flow

    def held_out_nll() -> float:
        with torch.no_grad():
            return float(-flow.log_prob(held_u, held_y).mean()) / u.shape[1]

    nll = {"gaussian": held_out_nll()}
    print(f"held-out NLL per dim, Gaussian only: {nll['gaussian']:.3f}", flush=True)
    if not len(flow.layers):
        return nll
    flow.train().requires_grad_(True)
    optimizer = torch.optim.Adam(flow.parameters(), lr=cfg.flow.lr)
    scheduler = warmup_cosine_schedule(optimizer, cfg.flow.steps // 20, cfg.flow.steps)
    gen = torch.Generator().manual_seed(cfg.seed)
    bar = trange(cfg.flow.steps, mininterval=cfg.progress_interval, desc="latent flow")
    for _ in bar:
        idx = torch.randint(n_train, (cfg.flow.batch_size,), generator=gen)
        loss = -flow.log_prob(u[idx], classes[idx]).mean() / u.shape[1]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        bar.set_postfix(nll=f"{loss.item():.3f}", refresh=False)
    flow.eval().requires_grad_(False)
    nll["flow"] = held_out_nll()
    print(f"held-out NLL per dim, with the flow: {nll['flow']:.3f}", flush=True)
    return nll


def build_generator(cfg: DictConfig) -> tuple[ShapesGenerator, dict]:
    """The untrained generator of ``cfg.model`` (one class per shape and variant) and its settings."""
    model_cfg = dict(OmegaConf.to_container(cfg.model), num_classes=len(SHAPE_NAMES) * len(variant_names(cfg.variant)),
                     z_std=TRUNCATED_NORMAL_STD if cfg.match_truncated_latents else 1.0)
    return ShapesGenerator(**model_cfg), model_cfg


def train(cfg: DictConfig) -> Path:
    """Run (or resume) training as configured, write the generator with save_pretrained, return its folder."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if cfg.loss not in ("vae", "gan"):
        raise ConfigError(f"loss={cfg.loss!r} is not known; use vae (the σ-VAE's ELBO, shipped) or gan "
                          "(the same decoder against a discriminator).")
    check_imle_options(cfg)
    if cfg.loss == "gan":
        return train_gan(cfg)
    names = variant_names(cfg.variant)
    generator, model_cfg = build_generator(cfg)
    encoder = ShapesEncoder(**{k: model_cfg[k] for k in ("dim_z", "num_classes", "resolution", "width", "embed_dim")})
    params = list(encoder.parameters()) + list(generator.decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.lr)
    scheduler = warmup_cosine_schedule(optimizer, cfg.warmup_steps, cfg.steps)
    minority = minority_set(cfg)
    refits = minority is not None and cfg.imle.pool_law != "prior"
    posteriors = None
    start, ckpt_path = 0, Path(cfg.checkpoint)
    if cfg.resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        encoder.load_state_dict(state["encoder"])
        generator.decoder.load_state_dict(state["decoder"])
        posteriors = state.get("minority_posteriors")  # of the last refit (None before imle.start_step)
        if refits and posteriors is not None:  # and the law fitted to them
            refit_minority_law(generator, posteriors, minority, cfg)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"]
        print(f"resumed from {ckpt_path} at step {start}", flush=True)
    t0 = time.perf_counter()
    bar = trange(start, cfg.steps, initial=start, total=cfg.steps, mininterval=cfg.progress_interval,
                 desc="shapes σ-VAE")
    for step in bar:
        step_seed = cfg.seed * 10_000_000 + step
        imle_on = step >= cfg.imle.start_step
        if refits and imle_on and (posteriors is None or step % cfg.imle.refit_every == 0):
            posteriors = encoder.posteriors(*minority)
            refit_minority_law(generator, posteriors, minority, cfg)
        images, classes = sample_real(names, cfg.batch_size, step_seed, cfg.model.resolution)
        mean, logvar = encoder(images, classes)
        noise = torch.randn(mean.shape, generator=torch.Generator().manual_seed(step_seed))
        recon = generator.decoder(mean + (0.5 * logvar).exp() * noise, classes)
        loss, mse, kl = sigma_vae_loss(recon, images, mean, logvar, cfg.beta)
        shown = {"mse": f"{mse.item():.5f}", "kl": f"{kl.item():.1f}"}
        loss = loss + weighted_minority_loss(generator, minority if imle_on else None, cfg, step_seed, shown, encoder,
                                             posteriors)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", **shown, refresh=False)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            law = {"minority_posteriors": posteriors} if refits else {}
            save_checkpoint({"step": step + 1, "encoder": encoder.state_dict(), "decoder": generator.decoder.state_dict(),
                             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), **law}, ckpt_path)
    print(f"trained steps {start}..{cfg.steps} in {time.perf_counter() - t0:.0f} s", flush=True)
    encoder.eval()
    generator.eval()
    fit_latent_law(generator, *encode_real(encoder, cfg), cfg)
    out = generator.save_pretrained(cfg.out_dir)
    print(f"wrote {out}", flush=True)
    return out


def train_gan(cfg: DictConfig) -> Path:
    """Train ``cfg.model``'s decoder as a conditional GAN generator on N(0, I) latents (hinge loss, SN projection
    discriminator, classes at the data's rates), with the IMLE terms if set; resumable; write it with save_pretrained."""
    names = variant_names(cfg.variant)
    generator, model_cfg = build_generator(cfg)
    if model_cfg["flow_layers"]:
        raise ConfigError(f"loss=gan needs model.flow_layers=0 (the GAN's latent law is the prior itself), got "
                          f"{model_cfg['flow_layers']}.")
    decoder = generator.decoder
    discriminator = ShapesDiscriminator(model_cfg["num_classes"], cfg.model.resolution, cfg.gan.discriminator_width)
    betas = (cfg.gan.beta1, cfg.gan.beta2)
    opt_g = torch.optim.Adam(decoder.parameters(), lr=cfg.gan.lr_generator, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.gan.lr_discriminator, betas=betas)
    minority = minority_set(cfg)
    start, ckpt_path = 0, Path(cfg.checkpoint)
    parts = {"decoder": decoder, "discriminator": discriminator, "optimizer_g": opt_g, "optimizer_d": opt_d}
    if cfg.resume and ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        for name, part in parts.items():
            part.load_state_dict(state[name])
        start = state["step"]
        print(f"resumed from {ckpt_path} at step {start}", flush=True)
    t0 = time.perf_counter()
    bar = trange(start, cfg.steps, initial=start, total=cfg.steps, mininterval=cfg.progress_interval, desc="shapes GAN")
    for step in bar:
        step_seed = cfg.seed * 10_000_000 + step
        images, classes = sample_real(names, cfg.batch_size, step_seed, cfg.model.resolution)
        z = torch.randn(len(images), cfg.model.dim_z, generator=torch.Generator().manual_seed(step_seed))
        fake = decoder(z, classes)
        d_loss = hinge_discriminator_loss(discriminator(images, classes), discriminator(fake.detach(), classes))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = hinge_generator_loss(discriminator(fake, classes))
        shown = {"d": f"{d_loss.item():.3f}", "g": f"{g_loss.item():.3f}"}
        g_loss = g_loss + weighted_minority_loss(generator, minority if step >= cfg.imle.start_step else None, cfg,
                                                 step_seed, shown)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        bar.set_postfix(**shown, refresh=False)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_checkpoint({"step": step + 1, **{name: part.state_dict() for name, part in parts.items()}}, ckpt_path)
    print(f"trained steps {start}..{cfg.steps} in {time.perf_counter() - t0:.0f} s", flush=True)
    out = generator.eval().save_pretrained(cfg.out_dir)
    print(f"wrote {out}", flush=True)
    return out


@hydra.main(config_path="pkg://ganalyze.conf", config_name="train_shapes_generator", version_base=None)
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    train(cfg)


if __name__ == "__main__":
    main()
