"""Data-parallel training with torch.distributed (DDP), launched by torchrun.

Every process draws the same global batch from (seed, step), keeps its own share of it (its latents,
each with all its step sizes), and DistributedDataParallel averages the transformer's gradients across
processes. With equal shares, the average of per-process mean losses is the mean loss of the global
batch, so N processes with global batch B follow the trajectory of one process with batch B (up to the
order of float sums). gloo on CPU, nccl on GPUs. Only rank 0 writes checkpoints, logs and evaluations.

    torchrun --standalone --nproc_per_node=2 -m ganalyze.cli.train train.batch_size=64
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ganalyze.errors import ConfigError


@dataclass(frozen=True)
class DataParallel:
    """This process's place in a data-parallel job: rank ``rank`` of ``world_size`` (0 of 1: no parallelism)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes checkpoints, logs and progress (rank 0)."""
        return self.rank == 0

    def shard_batch(self, z: torch.Tensor, y: torch.Tensor, alpha: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """This process's share of a step's n latents and their k·n step sizes (k blocks of n, see train_step):
        a contiguous slice of the latents and the same slice of every block of α."""
        n = len(z)
        if n % self.world_size:
            raise ConfigError(
                f"a step's {n} latents (train.batch_size / train.fast.alphas_per_latent) must divide evenly among "
                f"the {self.world_size} processes; make train.batch_size a multiple of alphas_per_latent x "
                f"{self.world_size}."
            )
        rows = slice(self.rank * (n // self.world_size), (self.rank + 1) * (n // self.world_size))
        blocks = alpha.reshape(len(alpha) // n, n, *alpha.shape[1:])
        return z[rows], y[rows], blocks[:, rows].reshape(-1, *alpha.shape[1:])

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of ``values`` over the processes (``values`` itself for one process)."""
        if self.world_size == 1:
            return values
        total = values.clone()
        dist.all_reduce(total)
        return total / self.world_size

    def agree(self, value: str) -> str:
        """Rank 0's ``value`` on every process (e.g. a run folder named after the clock)."""
        if self.world_size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` under DistributedDataParallel (gradients averaged over processes), or itself alone."""
        if self.world_size == 1:
            return module
        device = next(module.parameters()).device
        return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)


def from_environment(device: torch.device | str = "cpu") -> DataParallel:
    """Join the process group that torchrun describes in the environment; one process alone without torchrun.

    torchrun sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; the backend is nccl for CUDA
    devices (each process on GPU LOCAL_RANK) and gloo on the CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DataParallel()
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DataParallel(dist.get_rank(), dist.get_world_size())


def shutdown() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()
