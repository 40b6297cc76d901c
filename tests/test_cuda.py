"""CUDA paths, skipped where no GPU is present: our step on the GPU equals the CPU's, compiled under a memory
budget it equals the eager step, and the benchmark (roofline included) runs there."""

from __future__ import annotations

import json

import pytest
import torch

from ganalyze.bench import main as bench
from ganalyze.fast_path import FastPath
from ganalyze.transformers.linear import LinearTransformer
from test_fast_path import tiny_biggan, trained_theta

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def step_inputs(n: int = 2, k: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    z, y = tiny_biggan().sample_latents(n, seed=5)
    return z, y, torch.linspace(-0.3, 0.3, n * k)


def update(fast: FastPath, device: str = "cpu", prepare: bool = False) -> torch.Tensor:
    """θ's change in one step (see trained_theta, which starts from the seed-0 LinearTransformer)."""
    torch.manual_seed(0)
    start = LinearTransformer(tiny_biggan().dim_z).theta.detach()
    return trained_theta(*step_inputs(), fast, device=device, prepare=prepare) - start


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def test_fp32_step_on_cuda_matches_the_cpu():
    fast = FastPath("fp32", alphas_per_latent=2)
    cpu, cuda = update(fast), update(fast, device="cuda")
    assert cpu.norm() > 0 and relative_error(cuda, cpu) < 1e-2  # TF32 convolutions (cuDNN's default) round at ~1e-3


def test_compiled_step_under_a_memory_budget_matches_the_eager_step_on_cuda():
    eager = update(FastPath("fp32", alphas_per_latent=2), device="cuda", prepare=True)
    compiled = update(FastPath("fp32", alphas_per_latent=2, compile=True, memory_budget=0.3), device="cuda", prepare=True)
    assert eager.norm() > 0 and relative_error(compiled, eager) < 1e-2


def test_bench_runs_on_cuda(tmp_path):
    out = tmp_path / "bench.json"
    assert bench(["--worlds", "tiny", "--devices", "cuda", "--batches", "8", "--steps", "1",
                  "--matmul-size", "256", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = report["results"]
    assert [r["device"] for r in rows] == ["cuda"] * 3 and all(r["peak_bytes"] > 0 for r in rows)
    assert report["memory_bytes_per_s"]["cuda"]["wall"] > 0  # the roofline's bandwidth, from a 2 GiB copy
    assert all(r["roofline_seconds"] > 0 and 0 < r["roofline_fraction"] for r in rows)
