"""Train the shape classifier of the quality report on real world images only, and report held-out accuracy.

Fresh images of the world variant every step (seeded by step), one CPU thread, atomic checkpoints. Example:
    OMP_NUM_THREADS=1 python scripts/train_shape_classifier.py out_dir=ganalyze/weights/shape_classifier
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import hydra
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from tqdm import trange

from ganalyze.checkpoint import resume_training_state, save_training_state
from ganalyze.lr_schedule import warmup_cosine_schedule
from ganalyze.world import SHAPE_NAMES, load_variant
from ganalyze.world.classifier import ShapeClassifier

HELDOUT_SEED_OFFSET = 3 * 10**9  # held-out images are never training images


@torch.no_grad()
def heldout_accuracy(classifier: ShapeClassifier, variant: str, n: int, seed: int) -> dict[str, float]:
    """Overall and per-class accuracy on ``n`` fresh real images of ``variant``."""
    images, factors = load_variant(variant).sample(n, seed=HELDOUT_SEED_OFFSET + seed)
    truth = factors.class_id.long()
    pred = classifier.eval().predict(images)
    per_class = {SHAPE_NAMES[c]: float((pred[truth == c] == c).float().mean()) for c in range(len(SHAPE_NAMES))}
    return {"accuracy": float((pred == truth).float().mean()), **per_class}


def train(cfg: DictConfig) -> Path:
    """Run (or resume) training as configured, save the classifier and its held-out accuracy, return its folder."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    variant = load_variant(cfg.variant)
    classifier = ShapeClassifier(num_classes=len(SHAPE_NAMES), resolution=cfg.resolution, width=cfg.width)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = warmup_cosine_schedule(optimizer, cfg.warmup_steps, cfg.steps)
    start, ckpt_path = 0, Path(cfg.checkpoint)
    if cfg.resume and ckpt_path.is_file():
        start = resume_training_state(ckpt_path, model=classifier, optimizer=optimizer, scheduler=scheduler)
        print(f"resumed from {ckpt_path} at step {start}", flush=True)
    t0 = time.perf_counter()
    classifier.train()
    bar = trange(start, cfg.steps, initial=start, total=cfg.steps, mininterval=cfg.progress_interval,
                 desc="shape classifier")
    for step in bar:
        images, factors = variant.sample(cfg.batch_size, seed=cfg.seed * 10_000_000 + step)
        loss = F.cross_entropy(classifier(images), factors.class_id.long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_training_state(ckpt_path, step + 1, model=classifier, optimizer=optimizer, scheduler=scheduler)
    print(f"trained steps {start}..{cfg.steps} in {time.perf_counter() - t0:.0f} s", flush=True)
    accuracy = heldout_accuracy(classifier, cfg.variant, cfg.heldout_samples, cfg.seed)
    print(f"held-out accuracy on {cfg.heldout_samples} real {cfg.variant} images: {json.dumps(accuracy)}", flush=True)
    out = classifier.save_pretrained(cfg.out_dir)
    print(f"wrote {out}", flush=True)
    return out


@hydra.main(config_path="pkg://ganalyze.conf", config_name="train_shape_classifier", version_base=None)
def main(cfg: DictConfig) -> None:
    """Hydra entry point."""
    train(cfg)


if __name__ == "__main__":
    main()
