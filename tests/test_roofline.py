"""The roofline counts each operation's FLOPs and bytes as they can be worked out by hand, and bounds it right."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ganalyze.roofline import count_operations, roofline


def test_a_linear_layer_counts_its_flops_and_every_tensor_it_reads_and_writes():
    x, weight, bias = torch.randn(8, 32), torch.randn(16, 32), torch.randn(16)
    ops = count_operations(lambda: torch.nn.functional.linear(x, weight, bias))
    assert [op.kind for op in ops] == ["matmul"]  # linear decomposes to one addmm; the transpose is a view
    assert ops[0].flops == 2 * 8 * 32 * 16
    assert ops[0].bytes == 4 * (8 * 32 + 16 * 32 + 16 + 8 * 16)  # x, Wᵀ, b read; y written


def test_views_move_nothing_and_element_wise_work_moves_its_operands():
    x = torch.randn(64, 64)
    assert count_operations(lambda: (x.view(4096), x.t(), x[:3], x.unsqueeze(0))) == []
    add, = count_operations(lambda: x + x)
    assert (add.kind, add.flops, add.bytes) == ("element-wise", 0, 3 * 64 * 64 * 4)
    one = torch.ones(())
    broadcast, = count_operations(lambda: x + one.expand(64, 64))  # the broadcast scalar: 4 bytes read once
    assert broadcast.bytes == 2 * 64 * 64 * 4 + 4


def test_normalisation_and_copies_are_their_own_kinds():
    x = torch.randn(4, 8, 6, 6)
    kinds = {op.kind for op in count_operations(lambda: torch.nn.functional.group_norm(x, 2))}
    assert kinds == {"normalisation"}
    assert [op.kind for op in count_operations(lambda: x.to(torch.bfloat16))] == ["copy"]


def test_the_bound_is_the_slower_of_compute_and_memory_per_operation():
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    ops = count_operations(lambda: (a @ b, a + b))
    kinds = roofline(ops, peak_flops=1e9, bandwidth=1e9)
    mm, add = kinds["matmul"], kinds["element-wise"]
    assert mm.bound_seconds == pytest.approx(2 * 256**3 / 1e9) and mm.flop_bound_operations == 1  # 33.6 ms > 0.8 ms
    assert add.bound_seconds == pytest.approx(3 * 256 * 256 * 4 / 1e9) and add.flop_bound_operations == 0
    memory_bound = roofline(ops, peak_flops=1e15, bandwidth=1e9)["matmul"]  # an infinitely fast matmul unit
    assert memory_bound.bound_seconds == pytest.approx(3 * 256 * 256 * 4 / 1e9) and memory_bound.flop_bound_operations == 0


def test_a_training_step_counts_the_flops_torch_counts_forward_and_backward():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(8 * 16 * 16, 4))
    x = torch.randn(2, 3, 16, 16)

    def step() -> None:
        net(x).square().mean().backward()

    ops = count_operations(step)
    with FlopCounterMode(display=False) as counter:
        step()
    assert sum(op.flops for op in ops) == counter.get_total_flops() > 0
    assert {op.kind for op in ops} >= {"matmul", "normalisation", "element-wise"}
