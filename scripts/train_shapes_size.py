"""Train the shapes_size assessor: a small CNN that predicts the true object size of world images.

    OMP_NUM_THREADS=1 python scripts/train_shapes_size.py            # writes assessors/weights/shapes_size/

Images are rendered on the fly from the broad variant with its size range widened to the world's
bounds (so the edges of broad are interior to training), half of each batch blurred and noised so the
assessor also reads soft generated images. Every random draw is seeded by (seed, step): a run resumed
from its checkpoint (--resume) ends with the same weights as an uninterrupted one. Prints and writes
held-out MAE and R^2 (metrics.json next to the weights).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402  (after fixing the thread count)
from tqdm import tqdm  # noqa: E402

from assessors.shapes_size import SHIPPED_WEIGHTS, ShapesSize  # noqa: E402
from ganalyze.atomic import write_json, write_with  # noqa: E402
from ganalyze.world import WorldVariant, load_variant  # noqa: E402
from ganalyze.world.render import gaussian_blur  # noqa: E402
from ganalyze.world.variants import MAX_SIZE, MIN_SIZE, Uniform  # noqa: E402

HELD_OUT_SEEDS = {"broad": 1, "low_quality": 2, "broad_64px": 3}  # training seeds start at 1_000_000
MAX_BLUR, MAX_NOISE = 1.0, 0.03


def training_variant() -> WorldVariant:
    """Broad, with the size range widened to everything the world allows."""
    return dataclasses.replace(load_variant("broad"), name="broad_wide_size", size=Uniform(MIN_SIZE, MAX_SIZE))


def training_batch(variant: WorldVariant, batch: int, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and true sizes of one step; the second half blurred and noised by a random amount."""
    step_seed = 1_000_000 + seed * 100_000_000 + step
    images, factors = variant.sample(batch, step_seed)
    gen = torch.Generator().manual_seed(step_seed + 2**40)
    sigma, noise = (float(v) for v in torch.rand(2, generator=gen) * torch.tensor([MAX_BLUR, MAX_NOISE]))
    half = images[batch // 2 :]
    if sigma > 0.05:
        half = gaussian_blur(half, sigma)
    half = (half + noise * torch.randn(half.shape, generator=gen)).clamp(0.0, 1.0)
    return torch.cat([images[: batch // 2], half]), factors.size


def evaluate(model: ShapesSize, n: int) -> dict[str, dict[str, float]]:
    """MAE and R^2 of the predicted against the true size on held-out images of broad, low_quality, broad at 64 px."""
    results = {}
    for name, seed in HELD_OUT_SEEDS.items():
        variant = load_variant(name.replace("_64px", ""))
        images, factors = variant.sample(n, seed, resolution=64 if name.endswith("64px") else None)
        with torch.no_grad():
            predicted = torch.cat([model(images[i : i + 500]) for i in range(0, n, 500)])
        err = predicted - factors.size
        r2 = 1.0 - err.pow(2).sum() / (factors.size - factors.size.mean()).pow(2).sum()
        results[name] = {"mae": err.abs().mean().item(), "r2": r2.item(), "bias": err.mean().item(), "n": n}
    return results


def save_checkpoint(path: Path, model: ShapesSize, opt: torch.optim.Optimizer, step: int) -> None:
    """Atomically write the training state (temp file, fsync, rename)."""
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": torch.tensor(step)}
    write_with(path, lambda handle: torch.save(state, handle))


def train_size_assessor(world: Any, out: Path, steps: int, batch: int, lr: float, seed: int, checkpoint_every: int,
                        resume: bool, desc: str) -> tuple[ShapesSize, float]:
    """Train a size assessor on ``world`` (anything with ``sample(n, seed)``), scaled like the shipped one;
    ``resume`` continues from out/checkpoint.pt to the same weights. Returns the model and this run's seconds."""
    torch.manual_seed(seed)
    mean, std = training_variant().factor_stats()["size"]
    broad = load_variant("broad").size
    model = ShapesSize(target_mean=mean, target_std=std, score_range=(broad.low, broad.high))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint, start = out / "checkpoint.pt", 0
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
        print(f"resuming from step {start}")
    begin = time.perf_counter()
    bar = tqdm(range(start, steps), initial=start, total=steps, desc=desc, mininterval=10)
    for step in bar:
        for group in opt.param_groups:  # cosine decay, a function of the step only (resume-exact)
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        images, size = training_batch(world, batch, seed, step)
        loss = ((model(images) - size) / std).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if (step + 1) % checkpoint_every == 0:
            save_checkpoint(checkpoint, model, opt, step + 1)
    return model.eval(), time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_WEIGHTS)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-n", type=int, default=2000)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    args = parser.parse_args()
    if args.steps <= 0 or args.batch < 2:
        parser.error(f"--steps must be > 0 and --batch >= 2, got {args.steps} and {args.batch}")
    torch.set_num_threads(1)
    model, seconds = train_size_assessor(training_variant(), args.out, args.steps, args.batch, args.lr, args.seed,
                                         args.checkpoint_every, args.resume, "shapes_size")
    checkpoint = args.out / "checkpoint.pt"

    metrics = {"held_out": evaluate(model, args.eval_n), "train_seconds_this_run": seconds,
               "steps": args.steps, "batch": args.batch, "lr": args.lr, "seed": args.seed,
               "threads": torch.get_num_threads(), "torch": torch.__version__,
               "parameters": sum(p.numel() for p in model.parameters())}
    model.save_pretrained(args.out)
    write_json(args.out / "metrics.json", metrics)
    checkpoint.unlink(missing_ok=True)
    for name, m in metrics["held_out"].items():
        print(f"held-out {name}: MAE {m['mae']:.5f} (area fraction), R^2 {m['r2']:.4f}, bias {m['bias']:+.5f}")
    print(f"wrote {args.out} in {seconds:.0f} s of training")


if __name__ == "__main__":
    main()
