"""Test helpers: the published CaffeNet keys and shapes, random state dicts of them, and a functional
reference forward written from the release's description (independent of assessors.caffenet)."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

TRUNK_SHAPES = {
    "conv1.weight": (96, 3, 11, 11), "conv1.bias": (96,),
    "conv2.weight": (256, 48, 5, 5), "conv2.bias": (256,),
    "conv3.weight": (384, 256, 3, 3), "conv3.bias": (384,),
    "conv4.weight": (384, 192, 3, 3), "conv4.bias": (384,),
    "conv5.weight": (256, 192, 3, 3), "conv5.bias": (256,),
    "fc6.weight": (4096, 9216), "fc6.bias": (4096,),
    "fc7.weight": (4096, 4096), "fc7.bias": (4096,),
}


def random_state(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """He-scaled random weights and zero biases of ``shapes``; conv1 scaled for BGR 0-255 input."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith(".bias"):
            state[key] = torch.zeros(shape)
        else:
            state[key] = torch.randn(shape, generator=gen) * math.sqrt(2.0 / math.prod(shape[1:]))
    state["conv1.weight"] *= 0.01  # inputs are 0-255: keep activations of order one
    return state


def trunk_reference(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """fc7 activations: conv1 s4 -> pool 3/2 -> LRN; conv2 (2 groups) -> pool -> LRN; conv3; conv4, conv5 (2 groups) -> pool; fc6; fc7."""
    def conv(name: str, x: torch.Tensor, **kw) -> torch.Tensor:
        return F.relu(F.conv2d(x, state[f"{name}.weight"], state[f"{name}.bias"], **kw))

    def lrn(x: torch.Tensor) -> torch.Tensor:
        return F.local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=1.0)

    x = lrn(F.max_pool2d(conv("conv1", x, stride=4), 3, 2))
    x = lrn(F.max_pool2d(conv("conv2", x, padding=2, groups=2), 3, 2))
    x = conv("conv3", x, padding=1)
    x = conv("conv4", x, padding=1, groups=2)
    x = F.max_pool2d(conv("conv5", x, padding=1, groups=2), 3, 2)
    x = F.relu(F.linear(x.flatten(1), state["fc6.weight"], state["fc6.bias"]))
    return F.relu(F.linear(x, state["fc7.weight"], state["fc7.bias"]))
