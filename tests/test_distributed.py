"""DDP data parallelism: two gloo processes under torchrun end with the θ and losses of one process on the same
global batch, through the training loop with its fast path.

The comparison pins ``precision=fp32``: under bf16 (what ``precision=auto`` picks on CPUs with native bf16,
AVX512-BF16 or AMX) the two runs sum gradients in a different order and round differently, so θ differs by
about 1e-4, beyond the 1e-6 that equality of the two code paths is checked to. Every worker simulates such a
host (``auto`` would pick bf16), so this test shows the pin works on any CPU, AVX2-only included."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys

import pytest
import torch

import ganalyze.fast_path
from ganalyze.distributed import DataParallel
from ganalyze.errors import ConfigError

# Trains a direction on a random shapes generator with the brightness assessor through ganalyze.training.train
# (fast path: 2 step sizes per latent); run alone or under torchrun.
WORKER = """
import torch
from assessors.registry import create_assessor
from ganalyze.distributed import from_environment, shutdown
import ganalyze.fast_path
from ganalyze.fast_path import FastPath, compute_dtype
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.objectives.score import ScoreObjective
from ganalyze.training import TrainSettings, train
from ganalyze.transformers.linear import LinearTransformer

ganalyze.fast_path.bf16_is_native = ganalyze.fast_path.bf16_is_faster = lambda device: True  # a bf16 host
torch.set_num_threads(1)
torch.manual_seed(0)
generator = ShapesGenerator(width=8)
objective = ScoreObjective(create_assessor("brightness"))
transformer = LinearTransformer(generator.dim_z, init_std=0.1)
start = transformer.theta.detach().clone()
parallel = from_environment()
settings = TrainSettings(steps=STEPS, batch_size=GLOBAL_BATCH, lr=0.05, alpha_range=(-0.3, 0.3),
                         fast=FastPath(precision="fp32", alphas_per_latent=2))
state = train(generator, transformer, objective, settings, RUN_DIR, {}, parallel=parallel)
if parallel.is_main:
    torch.save({"start": start, "end": transformer.theta.detach(), "losses": state.losses,
                "auto": str(compute_dtype("auto", "cpu"))}, OUT)
shutdown()
"""


def write_worker(folder, name: str, steps: int = 3, global_batch: int = 8) -> str:
    """A worker script that trains in ``folder/name`` and saves θ and the losses to ``folder/name.pt``."""
    path = folder / f"{name}.py"
    path.write_text(WORKER.replace("STEPS", str(steps)).replace("GLOBAL_BATCH", str(global_batch))
                    .replace("RUN_DIR", repr(str(folder / name))).replace("OUT", repr(str(folder / f"{name}.pt"))))
    return str(path)


def test_two_gloo_processes_match_one_process(tmp_path, monkeypatch):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    write_worker(tmp_path, "double")], env=env, check=True, timeout=240)
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        assert key not in os.environ
    for probe in ("bf16_is_native", "bf16_is_faster"):  # the in-process worker's bf16 host ends with the test
        monkeypatch.setattr(ganalyze.fast_path, probe, getattr(ganalyze.fast_path, probe))
    runpy.run_path(write_worker(tmp_path, "single"), run_name="__main__")
    one, two = torch.load(tmp_path / "single.pt"), torch.load(tmp_path / "double.pt")
    assert one["auto"] == two["auto"] == "torch.bfloat16"  # the simulated host is one where auto picks bf16
    torch.testing.assert_close(two["start"], one["start"], rtol=0, atol=0)
    assert (one["end"] - one["start"]).abs().max() > 1e-3  # training moved θ
    torch.testing.assert_close(two["end"], one["end"], rtol=1e-5, atol=1e-6)
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5)  # rank 0 logs the global batch's loss


def test_shard_batch_gives_each_process_its_latents_with_all_their_step_sizes():
    z, y = torch.arange(4.0).unsqueeze(1), torch.arange(4)
    alpha = torch.arange(8.0)  # two blocks of four: sample i pairs latent i mod 4 with alpha_i
    shares = [DataParallel(rank, 2).shard_batch(z, y, alpha) for rank in range(2)]
    assert [s[1].tolist() for s in shares] == [[0, 1], [2, 3]]
    assert [s[2].tolist() for s in shares] == [[0.0, 1.0, 4.0, 5.0], [2.0, 3.0, 6.0, 7.0]]
    with pytest.raises(ConfigError, match="divide evenly"):
        DataParallel(0, 3).shard_batch(z, y, alpha)
