"""What one image costs on this machine: a BigGAN-deep-128 forward and a MemNet score (ten-crop) at batch 1,
both with random weights (same architecture and cost as the published ones), median of 5 after one warm-up,
in process CPU seconds (what a busy shared machine inflates least) and wall seconds.

    OMP_NUM_THREADS=1 python scripts/forward_cost.py [generator config name, default biggan_deep_128]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from importlib.resources import files

import torch
from omegaconf import OmegaConf

from assessors import create_assessor
from ganalyze.build import build_generator


def timed(fn: Callable[[], object], repeats: int = 5) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of ``repeats`` calls after one warm-up call."""
    fn()
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def main(name: str = "biggan_deep_128") -> None:
    """Print the batch-1 cost of the generator and of MemNet."""
    torch.set_num_threads(1)
    node = OmegaConf.to_container(OmegaConf.load(str(files("ganalyze.conf") / "generator" / f"{name}.yaml")))
    generator = build_generator({**node, "pretrained": False})
    memnet = create_assessor("memnet", pretrained=False).eval()
    z, y = generator.sample_latents(1, 0)
    with torch.no_grad():
        image = generator(z, y)
        print("%s forward, batch 1: %.3f CPU s, %.3f wall s" % (name, *timed(lambda: generator(z, y))))
        print("memnet score (ten-crop), batch 1: %.3f CPU s, %.3f wall s" % timed(lambda: memnet(image)))


if __name__ == "__main__":
    main(*sys.argv[1:])
