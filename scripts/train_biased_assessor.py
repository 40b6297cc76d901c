"""Ground truth for the disparity audit: a size assessor trained on a world where warm hues are rare, and one on a balanced world.

    OMP_NUM_THREADS=1 python scripts/train_biased_assessor.py --rare-share 0.01 --out runs/audit/assessor_rare
    OMP_NUM_THREADS=1 python scripts/train_biased_assessor.py --rare-share balanced --out runs/audit/assessor_balanced

The world is the shipped assessor's training world (broad, size widened to the world's bounds) with the hue
split in two: the rare group (hue 0-60°, red to yellow: the ``warm`` variant's palette) makes up
``--rare-share`` of the images, the rest of the wheel (60-360°) the remainder; ``balanced`` draws hues uniformly
(the rare group then has its fair 1/6), which is the recipe of the shipped ``shapes_size`` assessor. The model,
its scaling, the batches (half blurred and noised), the step budget and the checkpoint are those of
scripts/train_shapes_size.py, imported from it, so only the hue distribution differs. Every draw is seeded by
(seed, step): ``--resume`` continues a killed run to the same weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ is not a package: reuse its size trainer

import torch  # noqa: E402
from train_shapes_size import train_size_assessor, training_variant  # noqa: E402

from ganalyze.atomic import write_json  # noqa: E402
from ganalyze.world import Factors, WorldVariant  # noqa: E402
from ganalyze.world.variants import Uniform  # noqa: E402

RARE_HUES = (0.0, 60.0)  # the rare group: red through orange to yellow


@dataclasses.dataclass(frozen=True)
class HueMixture:
    """A world whose hues in RARE_HUES make up ``rare_share`` of the images; samples like a WorldVariant."""

    base: WorldVariant
    rare_share: float

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, Factors]:
        """n images and factors: each image from the rare palette with probability rare_share, else the rest."""
        rare = dataclasses.replace(self.base, hue=Uniform(*RARE_HUES))
        rest = dataclasses.replace(self.base, hue=Uniform(RARE_HUES[1], self.base.hue.high))
        pick = torch.rand(n, generator=torch.Generator().manual_seed(seed + 2**41)) < self.rare_share
        images_rare, factors_rare = rare.sample(n, seed)
        images_rest, factors_rest = rest.sample(n, seed + 2**42)
        images = torch.where(pick.view(-1, 1, 1, 1), images_rare, images_rest)
        factors = Factors(**{k: torch.where(pick, v, factors_rest.as_dict()[k])
                             for k, v in factors_rare.as_dict().items()})
        return images, factors


def training_world(rare_share: str) -> WorldVariant | HueMixture:
    """The shipped assessor's balanced world, or that world with the given share of rare hues."""
    base = training_variant()
    if rare_share == "balanced":
        return base
    share = float(rare_share)
    if not 0.0 <= share <= 1.0:
        raise SystemExit(f"--rare-share must be 'balanced' or a fraction in [0, 1], got {rare_share}")
    return HueMixture(base, share)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rare-share", default="0.01", help="share of hue 0-60° images, or 'balanced'")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, seconds = train_size_assessor(training_world(args.rare_share), args.out, args.steps, args.batch, args.lr,
                                         args.seed, args.checkpoint_every, args.resume,
                                         f"size assessor, rare={args.rare_share}")
    checkpoint = args.out / "checkpoint.pt"
    model.save_pretrained(args.out)
    write_json(args.out / "trained_with.json", {"rare_share": args.rare_share, "rare_hues": list(RARE_HUES),
                                                "steps": args.steps, "batch": args.batch, "lr": args.lr,
                                                "seed": args.seed, "train_seconds_this_run": seconds})
    checkpoint.unlink(missing_ok=True)
    print(f"wrote {args.out} after {seconds:.0f} s of training")


if __name__ == "__main__":
    main()
