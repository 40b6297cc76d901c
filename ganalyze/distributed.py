"""Data-parallel training with torch.distributed (DDP), launched by torchrun.

Every process draws the same global batch from (seed, step), keeps its own contiguous share of it, and
DistributedDataParallel averages the transformer's gradients across processes. With equal shares, the
average of per-process mean losses is the mean loss of the global batch, so N processes with global
batch B follow the trajectory of one process with batch B. gloo on CPU, nccl on GPUs.

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

    def shard(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """This process's contiguous share of each global-batch tensor (split along the first dimension)."""
        n = len(tensors[0])
        if n % self.world_size:
            raise ConfigError(
                f"train.batch_size={n} is the global batch and must divide evenly among the {self.world_size} "
                f"processes (e.g. train.batch_size={self.world_size * max(1, n // self.world_size)})."
            )
        share = n // self.world_size
        return tuple(t[self.rank * share:(self.rank + 1) * share] for t in tensors)

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
