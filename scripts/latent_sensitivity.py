"""How much each latent coordinate of the shapes generator changes its images, and, for a trained direction,
how θ spreads over those coordinates. Explains why random directions of equal norm still move size and
position on the shapes world: few coordinates carry most of the change.

    OMP_NUM_THREADS=1 python scripts/latent_sensitivity.py [<run folder with transformer/>]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.sampling import held_out_seeds, latents_for_seeds
from ganalyze.transformers import load_transformer

STEP = 0.5  # latent step per coordinate, in units of the prior's standard deviation (about 0.88)
SEEDS = 200


@torch.no_grad()
def sensitivity(generator: ShapesGenerator, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """RMS pixel change when each latent coordinate alone moves by STEP, averaged over the latents."""
    base = generator(z, y)
    return torch.stack([(generator(z + STEP * torch.eye(generator.dim_z)[i], y) - base).pow(2).mean().sqrt()
                        for i in range(generator.dim_z)])


def main(args: list[str]) -> None:
    """Print coordinates by sensitivity, with θ's component on each when a run folder is given."""
    torch.set_num_threads(1)
    generator = ShapesGenerator.from_pretrained()
    z, y = latents_for_seeds(generator, held_out_seeds(SEEDS))
    sens = sensitivity(generator, z, y)
    order = sens.argsort(descending=True)
    share = sens[order].pow(2).cumsum(0) / sens.pow(2).sum()
    print(f"{'coord':>5} {'rms change':>10} {'cum. share':>10}" + ("  θ component" if args else ""))
    theta = load_transformer(Path(args[0]) / "transformer").theta.detach()[0] if args else None
    for rank, i in enumerate(order.tolist()):
        extra = f"  {float(theta[i]):+8.2f}" if theta is not None else ""
        print(f"{i:>5} {float(sens[i]):>10.4f} {float(share[rank]):>10.2f}{extra}")
    if theta is not None:
        print(f"‖θ‖ = {float(theta.norm()):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
