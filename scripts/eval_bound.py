"""What an image of a BigGAN evaluation must cost on this CPU at best: the FLOPs of one BigGAN-deep-128 forward and
one MemNet score (its ten crops), both with random weights (the published architecture and cost) and prepared as the
evaluation runs them (fixed spectral norms, channels_last, fp32), over the best fp32 rates of a large matmul and of a
large 3x3 convolution timed in the same process (per CPU-second: what a busy shared machine inflates least).

    OMP_NUM_THREADS=1 python scripts/eval_bound.py [--out docs/eval_bound.json] [--batches 8,50]

Dividing FLOPs by a rate gives the seconds an image would take if every layer ran at that rate; the script also
times an image's forward passes at each of ``--batches`` (best of 2 after a warm-up), and ganalyze-bench --job
reports the seconds the evaluation's generator and assessor took: both give the achieved fraction of the bound.
"""

from __future__ import annotations

import argparse
import time

import torch

from ganalyze.atomic import write_json
from ganalyze.bench import best_seconds, build_world, count_flops, matmul_flops_per_s
from ganalyze.fast_path import FastPath, prepare_frozen


def conv_flops_per_cpu_s(channels: int = 256, side: int = 32, batch: int = 8, repeats: int = 3) -> float:
    """Best FLOPs per CPU-second of a 3x3 convolution (channels_last, fp32): a well-shaped layer's practical rate."""
    x = torch.randn(batch, channels, side, side).to(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 3, 3).to(memory_format=torch.channels_last)
    best = best_seconds(torch.device("cpu"), lambda: torch.conv2d(x, w, padding=1), repeats)["cpu"]
    return 2 * batch * channels * channels * 9 * side * side / best


def cpu_s_per_image(generator: torch.nn.Module, assessor: torch.nn.Module, batch: int, repeats: int = 2) -> dict[str, float]:
    """Best CPU seconds per image of the generator's forward and of the assessor's at ``batch`` (after a warm-up)."""
    z, y = generator.sample_latents(batch, 1)
    best = {"generator": float("inf"), "assessor": float("inf")}
    with torch.no_grad():
        for _ in range(repeats + 1):
            start = time.process_time()
            images = generator(z, y)
            middle = time.process_time()
            assessor(images)
            end = time.process_time()
            best = {"generator": min(best["generator"], (middle - start) / batch),
                    "assessor": min(best["assessor"], (end - middle) / batch)}
    return best


def main() -> None:
    """Print and write the per-image FLOPs and the seconds they take at the measured rates."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="eval_bound.json", help="where to write the JSON report")
    parser.add_argument("--batches", default="8,50", help="batches at which to time an image (comma-separated)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator, assessor = build_world("biggan", torch.device("cpu"))
    fast = FastPath(precision="fp32")
    prepare_frozen(generator, fast)
    prepare_frozen(assessor.eval().requires_grad_(False), fast)
    z, y = generator.sample_latents(2, 0)
    with torch.no_grad():
        images = generator(z, y)
        flops = {"generator": count_flops(lambda: generator(z, y)) / 2,
                 "assessor": count_flops(lambda: assessor(images)) / 2}
    rates = {"matmul_2048": matmul_flops_per_s(torch.device("cpu"), torch.float32, 2048)["cpu"],
             "conv3x3_256": conv_flops_per_cpu_s()}
    report = {"threads": 1, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
              "gflop_per_image": {k: v / 1e9 for k, v in flops.items()},
              "gflop_per_cpu_s": {k: v / 1e9 for k, v in rates.items()},
              "cpu_s_per_image_at_rate": {rate: {part: f / r for part, f in flops.items()} for rate, r in rates.items()},
              "cpu_s_per_image_measured": {int(b): cpu_s_per_image(generator, assessor, int(b))
                                           for b in args.batches.split(",")}}
    write_json(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
