"""A roofline for a step: the time it would take if every operation ran at the device's matmul peak or its memory
bandwidth, whichever binds (issue 22), counted per aten operation and grouped by kind.

Each operation that runs is counted once as it is dispatched: its FLOPs by torch's own formulas
(``torch.utils.flop_counter``: matmuls, convolutions, attention) and its bytes as the sizes of the tensors it reads
and writes, each once (the traffic of an unfused kernel that keeps nothing in cache). An operation's bound is
max(FLOPs / matmul peak, bytes / bandwidth). Fused (compiled) kernels move fewer bytes than the sum of their
operations, and data that stays in a CPU's caches moves faster than memory, so a step can beat this roofline;
it is the yardstick of a memory-bound step that the matmul peak alone is not.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

KINDS = ("matmul", "normalisation", "copy", "element-wise")  # matmul: FLOPs counted; the rest move bytes
COPIES = {"copy_", "_to_copy", "clone", "cat", "stack", "constant_pad_nd", "index", "index_select", "gather",
          "embedding", "repeat", "_unsafe_index", "zeros_like", "fill_", "zero_", "new_zeros", "empty_like"}
# queries of a tensor's metadata, which touch no data
METADATA = {"size", "sym_size", "stride", "sym_stride", "storage_offset", "sym_storage_offset", "numel", "sym_numel",
            "dim", "is_contiguous", "sym_is_contiguous", "is_strides_like_format", "is_non_overlapping_and_dense",
            "layout", "device", "empty", "empty_strided"}


@dataclass(frozen=True)
class Operation:
    """One aten operation as it ran: its kind, FLOPs and bytes moved."""

    kind: str
    flops: int
    bytes: int


@dataclass
class KindCost:
    """What the operations of one kind did in one step, and their bound at the device's peaks."""

    operations: int = 0
    flops: int = 0
    bytes: int = 0
    bound_seconds: float = 0.0  # Σ over its operations of max(FLOPs / matmul peak, bytes / bandwidth)
    flop_bound_operations: int = 0  # operations whose FLOPs, not bytes, bind


def kind_of(name: str) -> str:
    """The kind of an aten operation by its name (FLOP-counted ones are matmuls, whatever their name)."""
    if "norm" in name and "vector_norm" not in name:
        return "normalisation"
    return "copy" if name in COPIES else "element-wise"


def tensor_bytes(t: torch.Tensor) -> int:
    """The bytes an operation moves to read or write ``t`` once: its elements, or its storage if that is smaller
    (a broadcast view reads its few elements once)."""
    if t.device.type == "meta":
        return 0
    return min(t.numel() * t.element_size(), t.untyped_storage().nbytes())


class OperationCounter(TorchDispatchMode):
    """Records every aten operation run under it (see the module doc); views and metadata queries move nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: list[Operation] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if isinstance(func, torch._ops.HigherOrderOperator) or func._overloadpacket.__name__ in METADATA:
            return func(*args, **kwargs)
        packet = func._overloadpacket
        if packet not in flop_registry:  # a composite: count the operations it is made of, as FlopCounterMode does
            with self:
                decomposed = func.decompose(*args, **kwargs)
            if decomposed is not NotImplemented:
                return decomposed
        out = func(*args, **kwargs)
        if not func.is_view:
            tensors = [t for t in tree_flatten((args, kwargs, out))[0] if isinstance(t, torch.Tensor)]
            counted = packet in flop_registry
            self.operations.append(Operation(
                "matmul" if counted else kind_of(packet.__name__),
                int(flop_registry[packet](*args, **kwargs, out_val=out)) if counted else 0,
                sum(tensor_bytes(t) for t in tensors)))
        return out


def count_operations(step: Callable[[], None]) -> list[Operation]:
    """Run ``step`` once and return the operations it ran."""
    with OperationCounter() as counter:
        step()
    return counter.operations


def roofline(operations: list[Operation], peak_flops: float, bandwidth: float) -> dict[str, KindCost]:
    """The operations' cost per kind (in KINDS order) at these peaks (FLOP/s and bytes/s)."""
    kinds: dict[str, KindCost] = defaultdict(KindCost)
    for op in operations:
        cost, compute, memory = kinds[op.kind], op.flops / peak_flops, op.bytes / bandwidth
        cost.operations += 1
        cost.flops += op.flops
        cost.bytes += op.bytes
        cost.bound_seconds += max(compute, memory)
        cost.flop_bound_operations += compute > memory
    return {kind: kinds[kind] for kind in KINDS if kind in kinds}
