"""Benchmark the shapes world: images per second on one CPU thread, and the accuracy of measure().

    python scripts/bench_world.py --variant broad --resolution 32 --n 4096 --repeats 5
Prints the throughput of WorldVariant.sample and measure, and the mean absolute error of every measured
factor against the true one (on --n images of the variant and of low_quality); writes it all as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402  (after fixing the thread count)

from ganalyze.world import WorldVariant, load_variant, measure  # noqa: E402


def time_call(fn, repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of fn (after one warm-up call)."""
    fn(0)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i + 1)
        times.append(time.perf_counter() - start)
    return times


def measurement_errors(variant: WorldVariant, n: int, resolution: int) -> dict[str, float]:
    """Mean absolute error of measure() against the true factors (centroid also in pixels, hue wrapped)."""
    images, factors = variant.sample(n, 12345, resolution)
    measured = measure(images)
    errors = {}
    for key, value in measured.items():
        diff = value - getattr(factors, key)
        if key == "hue":
            diff = torch.remainder(diff + 180.0, 360.0) - 180.0
        errors[key] = diff.abs().mean().item()
        errors[f"{key}_max"] = diff.abs().max().item()
    errors["x_px"] = errors["x"] * resolution
    errors["y_px"] = errors["y"] * resolution
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="broad")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--n", type=int, default=4096, help="images per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_world.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    variant = load_variant(args.variant)
    images, _ = variant.sample(args.n, 0, args.resolution)
    sample_times = time_call(lambda s: variant.sample(args.n, s, args.resolution), args.repeats)
    measure_times = time_call(lambda s: measure(images), args.repeats)
    result = {
        "variant": args.variant,
        "resolution": args.resolution,
        "images_per_call": args.n,
        "threads": torch.get_num_threads(),
        "render_images_per_s_best": args.n / min(sample_times),
        "render_images_per_s_median": args.n / statistics.median(sample_times),
        "measure_images_per_s_median": args.n / statistics.median(measure_times),
        "measure_mae": measurement_errors(variant, args.n, args.resolution),
        "measure_mae_low_quality": measurement_errors(load_variant("low_quality"), args.n, args.resolution),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
