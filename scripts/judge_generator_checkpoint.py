"""Judge a shapes-generator training checkpoint mid-run: can the shape classifier read what it draws yet?

Builds the generator and encoder of scripts/train_shapes_generator.py from MODEL overrides (as given to the
trainer), loads the checkpoint, fits the per-class Gaussians to the codes of fresh real images (the trainer's
final step, without the flow), and prints the classifier's accuracy per class on generated images and on
reconstructions (per class of the variant); writes a sample sheet. Example:
    python scripts/judge_generator_checkpoint.py runs/inclusive/baseline_s0/checkpoint.pt --sheet sheet.png \
        model.decoder=broadcast model.frame=true model.fourier=3 model.width=32
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from omegaconf import OmegaConf

from ganalyze.checkpoint import load_checkpoint
from ganalyze.cli.errors import reports_errors
from ganalyze.errors import WeightsError
from ganalyze.generators.shapes import TRUNCATED_NORMAL_STD, ShapesEncoder, ShapesGenerator
from ganalyze.world import SHAPE_NAMES, Factors, load_variant
from ganalyze.world.classifier import ShapeClassifier
from ganalyze.world.quality import generate, save_sample_grid

CONFIG = Path(__file__).resolve().parent.parent / "conf" / "train_shapes_generator.yaml"
JUDGE_SEED = 4 * 10**9  # real images never used in training or by the fitted law of the trainer


@torch.no_grad()
def judge(checkpoint: Path, overrides: list[str], variant: str, n: int) -> tuple[ShapesGenerator, dict[str, object]]:
    """The generator at ``checkpoint`` with its class Gaussians fitted, and the classifier's accuracies."""
    cfg = OmegaConf.load(CONFIG)
    cfg.merge_with_dotlist(overrides)
    model = dict(OmegaConf.to_container(cfg.model), num_classes=len(SHAPE_NAMES), flow_layers=0,
                 z_std=TRUNCATED_NORMAL_STD if cfg.match_truncated_latents else 1.0)
    generator = ShapesGenerator(**model)
    encoder = ShapesEncoder(**{k: model[k] for k in ("dim_z", "num_classes", "resolution", "width", "embed_dim")})
    state = load_checkpoint(checkpoint)
    try:
        generator.decoder.load_state_dict(state["decoder"])
        encoder.load_state_dict(state["encoder"])
    except (KeyError, RuntimeError) as err:
        raise WeightsError(f"{checkpoint} does not fit the model built from {overrides or 'the default config'} "
                           f"({str(err).splitlines()[0]}); pass the model.* overrides the run was trained with.") from err
    generator.eval(), encoder.eval()
    world = load_variant(variant)
    images, factors = world.sample(n, seed=JUDGE_SEED, resolution=generator.resolution)
    classes = factors.class_id.long()
    codes = encoder.posteriors(images, classes)[:, 0]
    generator.fit_latent_gaussians(codes, classes)
    classifier = ShapeClassifier.from_pretrained()
    fake, asked = generate(generator, n, seed=0, classes=world.classes)  # the variant's shapes only
    seen = classifier.predict(fake)
    recon = torch.cat([generator.decoder(w, y) for w, y in zip(codes.split(500), classes.split(500))])
    read = classifier.predict(recon)
    # per class: a class drawn well from its posterior codes but not from its fitted Gaussian points at the latent
    # law; drawn badly from both, at the decoder
    return generator, {"step": int(state["step"]), **frame_fit(generator, codes, classes, factors),
                       "prior_draws_log_density": prior_draws_log_density(generator, world.classes),
                       "generated_accuracy": {SHAPE_NAMES[c]: round(float((seen[asked == c] == c).float().mean()), 3)
                                              for c in world.classes},
                       "reconstruction_accuracy": {SHAPE_NAMES[c]: round(float((read[classes == c] == c).float().mean()), 3)
                                                   for c in world.classes}}


@torch.no_grad()
def prior_draws_log_density(generator: ShapesGenerator, classes: tuple[int, ...], n: int = 2000) -> dict[str, list[float]]:
    """Per class: mean log-density under its fitted code Gaussian of N(0, I) draws (where imle.pool_law=prior looks
    for matches) and of draws from that Gaussian itself (where the saved generator samples)."""
    out = {}
    gen = torch.Generator().manual_seed(0)
    for c in classes:
        law = torch.distributions.MultivariateNormal(generator.latent_mean[c].double(),
                                                     scale_tril=generator.latent_chol[c].double())
        prior = torch.randn(n, generator.dim_z, generator=gen, dtype=torch.double)
        out[SHAPE_NAMES[c]] = [round(float(law.log_prob(prior).mean()), 1), round(float(law.log_prob(law.sample((n,))).mean()), 1)]
    return out


@torch.no_grad()
def frame_fit(generator: ShapesGenerator, codes: torch.Tensor, classes: torch.Tensor, factors: Factors) -> dict[str, float]:
    """With model.frame, how the frame the decoder predicts from real images' codes follows their true objects:
    the correlation of its shift with the true centroid (x, y) and of its scale with the true side sqrt(size).
    A frame that tracks the object is what lets one outline serve every position and size."""
    frame = getattr(generator.decoder, "frame", None)
    if frame is None:
        return {}
    shift_x, shift_y, log_scale = frame(torch.cat([codes, generator.decoder.embed(classes)], dim=1)).unbind(1)

    def corr(a: torch.Tensor, b: torch.Tensor) -> float:
        return round(float(torch.corrcoef(torch.stack([a.double(), b.double()]))[0, 1]), 3)

    return {"frame_corr_x": corr(shift_x, factors.x), "frame_corr_y": corr(shift_y, factors.y),
            "frame_corr_size": corr(log_scale.exp(), factors.size.sqrt())}


@reports_errors("judge_generator_checkpoint")
def main(argv: list[str] | None = None) -> int:
    """Print the step and accuracies; write the sample sheet if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("overrides", nargs="*", help="the trainer's model.* overrides of that run")
    parser.add_argument("--variant", default="broad", help="real images whose codes fit the class Gaussians")
    parser.add_argument("-n", type=int, default=3000, help="real and generated images (default 3000)")
    parser.add_argument("--sheet", type=Path, default=None, help="write a sample sheet (PNG) here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    generator, result = judge(args.checkpoint, args.overrides, args.variant, args.n)
    print(result)
    if args.sheet is not None:
        save_sample_grid(generator, args.sheet, per_class=10, classes=load_variant(args.variant).classes,
                         name=f"{args.checkpoint} at step {result['step']} (class Gaussians fitted, no flow)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
