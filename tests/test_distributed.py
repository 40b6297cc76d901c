"""DDP data parallelism: two gloo processes under torchrun end with the θ of one process on the same global batch."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys

import pytest
import torch

from ganalyze.distributed import DataParallel
from ganalyze.errors import ConfigError

# Trains a direction on a random shapes generator with the brightness assessor; run alone or under torchrun.
WORKER = """
import torch
from assessors.registry import create_assessor
from ganalyze.distributed import from_environment, shutdown
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.objectives.score import ScoreObjective
from ganalyze.sampling import training_batch
from ganalyze.training import freeze, train_step
from ganalyze.transformers.linear import LinearTransformer

torch.set_num_threads(1)
torch.manual_seed(0)
generator = ShapesGenerator(width=8)
objective = ScoreObjective(create_assessor("brightness"))
freeze(generator, objective)
transformer = LinearTransformer(generator.dim_z, init_std=0.1)
start = transformer.theta.detach().clone()
parallel = from_environment()
model = parallel.wrap(transformer)
optimizer = torch.optim.Adam(transformer.parameters(), lr=0.05)
for step in range(STEPS):
    z, y, alpha = training_batch(generator, 0, step, GLOBAL_BATCH, 1, (-0.3, 0.3))
    train_step(generator, model, objective, optimizer, *parallel.shard(z, y, alpha))
if parallel.is_main:
    torch.save({"start": start, "end": transformer.theta.detach()}, OUT)
shutdown()
"""


def write_worker(folder, out: str, steps: int = 3, global_batch: int = 8) -> str:
    path = folder / "worker.py"
    path.write_text(WORKER.replace("STEPS", str(steps)).replace("GLOBAL_BATCH", str(global_batch))
                    .replace("OUT", repr(out)))
    return str(path)


def test_two_gloo_processes_match_one_process(tmp_path):
    single, double = str(tmp_path / "single.pt"), str(tmp_path / "double.pt")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    write_worker(tmp_path, double)], env=env, check=True, timeout=240)
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        assert key not in os.environ
    runpy.run_path(write_worker(tmp_path, single), run_name="__main__")
    one, two = torch.load(single), torch.load(double)
    torch.testing.assert_close(two["start"], one["start"], rtol=0, atol=0)
    assert (one["end"] - one["start"]).abs().max() > 1e-3  # training moved θ
    torch.testing.assert_close(two["end"], one["end"], rtol=1e-5, atol=1e-6)


def test_shard_splits_the_global_batch_in_order():
    batch = torch.arange(8)
    shares = [DataParallel(rank, 2).shard(batch)[0] for rank in range(2)]
    assert torch.equal(torch.cat(shares), batch)
    with pytest.raises(ConfigError, match="divide evenly"):
        DataParallel(0, 3).shard(batch)
