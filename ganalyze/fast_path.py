"""The fast path of the training step (``train.fast`` in the config): what each setting does and why.

- Shared targets: each latent's unedited image G(z) and its scores A(G(z)) are computed once and paired
  with k step sizes (``alphas_per_latent``), so the target pass costs 1/k of a pass per training sample.
  Gradients stay unbiased; a step sees batch_size / k distinct latents (k is lowered to the largest
  divisor of the batch size not above it, see ``alphas_for_batch``).

- Precision: ``auto`` takes bf16 autocast only where the hardware has bf16 kernels (CUDA with bf16; CPUs
  whose oneDNN reports bf16 support, i.e. AVX512 or AMX) AND a probe convolution, timed once per process
  and device, runs faster in bf16 than in fp32. Elsewhere bf16 is emulated and far slower (measured on the
  2-core AVX2 EPYC this was built on, one thread: a 3x3 convolution 100x, a matmul 80x), so fp32 stays.
- Compact activations: the tensors autograd keeps for the backward pass are stored in bf16 (each tensor
  once) and widened back when used; the compute stays in its own precision. Halves that memory.
- Frozen spectral norms: in eval mode a spectral-normalised weight is the same W / σ at every call, so it
  is computed once instead of at every forward (BigGAN recomputed ~200 MB of weights per pass).
- channels_last: the frozen networks' 4-D weights in NHWC order, which oneDNN and cuDNN convolve without
  reordering activations at every layer.
- compile: torch.compile of the frozen networks' forward (off by default: 1.5-2 minutes of compilation on
  this CPU, which the 300-step shapes job does not win back; a BigGAN run of hours does).
- memory_budget (with compile): the fraction of the activations the compiled graphs may keep for the
  backward pass (torch._functorch.config.activation_memory_budget). Below 1 the partitioner recomputes cheap
  element-wise work (normalisations, activations) in the backward pass instead of storing its outputs, and
  keeps convolutions and matmuls stored: memory falls with little extra arithmetic. 0.3 by default
  (BigGAN-deep-128 + MemNet: 0.43x the reference's memory per sample on the CPU, 0.41x on an H100, where it
  also ran faster than the unbudgeted compile; ignored without compile).

Measured and dropped: recomputing the assessor's forward in the backward pass (torch.utils.checkpoint) left
the peak unchanged, as the assessor is the first network differentiated, while all of G's activations are
still held.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_map
from torch.nn.utils.spectral_norm import SpectralNorm, remove_spectral_norm

from ganalyze.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")
COMPACT_MIN_NUMEL = 4096  # smaller saved tensors are kept as they are (no gain, conversion overhead)
RECENT_SAVES = 8  # originals held to recognise a tensor saved again right after


@dataclass  # not frozen: it is also the schema of train.fast (ganalyze.settings), which Hydra fills in
class FastPath:
    """Speed settings of a training step; checked on creation."""

    precision: str = "auto"
    alphas_per_latent: int = 4
    channels_last: bool = True
    compact_activations: bool = False
    compile: bool = False
    memory_budget: float = 0.3

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.fast.precision={self.precision!r} is not one of {', '.join(PRECISIONS)} "
                              "(auto: bf16 where the hardware runs it natively and faster, else fp32).")
        k = self.alphas_per_latent
        if int(k) != k or k < 1:
            raise ConfigError(f"train.fast.alphas_per_latent={k} must be a whole number >= 1 (1: one α per latent).")
        if not 0 < self.memory_budget <= 1:
            raise ConfigError(f"train.fast.memory_budget={self.memory_budget} must lie in (0, 1] (1: keep every "
                              "activation; lower: recompute cheap ones in the backward pass; needs compile=true).")

    @classmethod
    def from_config(cls, node: dict[str, Any]) -> "FastPath":
        """The settings of a ``train.fast`` config node; unknown keys fail with the known ones named."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(node) - known)
        if unknown:
            raise ConfigError(f"train.fast has no setting {', '.join(unknown)}; its settings are {', '.join(sorted(known))}.")
        return cls(**node)


def alphas_for_batch(alphas_per_latent: int, batch_size: int) -> int:
    """Step sizes per latent in a batch: the largest divisor of ``batch_size`` not above ``alphas_per_latent``."""
    return max(d for d in range(1, min(alphas_per_latent, batch_size) + 1) if batch_size % d == 0)


PLAIN = FastPath(precision="fp32", alphas_per_latent=1, channels_last=False)  # the straightforward step


def prepare_frozen(module: nn.Module, fast: FastPath) -> nn.Module:
    """Apply the fast path's one-time changes to a frozen network (in place): fixed spectral norms, layout, compile."""
    freeze_spectral_norms(module)
    if fast.channels_last:
        module.to(memory_format=torch.channels_last)
    if fast.compile and not is_compiled(module):  # the forward alone: hooks (see repeated_batch) stay outside
        module.forward = torch.compile(module.forward, backend=compile_backend(fast.memory_budget))
    return module


def is_compiled(module: nn.Module) -> bool:
    """Whether prepare_frozen already compiled ``module``'s forward (the training's, which the evaluation reuses)."""
    return "forward" in vars(module)


@functools.cache
def compile_backend(memory_budget: float) -> str | Callable[..., Any]:
    """torch.compile's backend for a memory budget (see FastPath.memory_budget): inductor, with the partitioner's
    activation budget set while it compiles.

    A backend of its own per budget, since Dynamo reuses a compiled graph for every module sharing the forward's
    code unless the backend differs (measured: a second copy compiled under 0.3 kept the first copy's 1.0 graph).
    """
    if memory_budget == 1.0:
        return "inductor"

    def inductor_within_budget(graph: torch.fx.GraphModule, example_inputs: list[Any]) -> Callable[..., Any]:
        from torch._inductor.compile_fx import compile_fx

        with torch._functorch.config.patch(activation_memory_budget=memory_budget):
            return compile_fx(graph, example_inputs)

    return inductor_within_budget


def bf16_is_native(device: torch.device) -> bool:
    """Whether bf16 matmuls and convolutions run on native kernels on ``device``."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        return bool(probe is not None and torch.backends.mkldnn.is_available() and probe())
    return False


@functools.cache
def bf16_is_faster(device: torch.device) -> bool:
    """Whether a probe 3x3 convolution (32x32 pixels) runs faster in bf16 than in fp32 on ``device``.

    Best of three timings per dtype after a warm-up; measured once per process and device (well under a second
    where bf16 is native; only called where it is). On CUDA the probe is large enough (batch 32, 256 channels,
    38 GFLOP) that kernel launches do not hide the arithmetic: at batch 8 and 64 channels an H100 ran both
    dtypes in the same launch-bound time and auto kept fp32.
    """
    batch, channels = (32, 256) if device.type == "cuda" else (8, 64)
    x = torch.randn(batch, channels, 32, 32, device=device)
    w = torch.randn(channels, channels, 3, 3, device=device)

    def best_seconds(dtype: torch.dtype) -> float:
        xd, wd = x.to(dtype), w.to(dtype)
        times = []
        for _ in range(4):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            torch.conv2d(xd, wd, padding=1)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
        return min(times[1:])

    return best_seconds(torch.bfloat16) < best_seconds(torch.float32)


def compute_dtype(precision: str, device: torch.device | str) -> torch.dtype:
    """The dtype of G's and A's forward passes for a precision setting (see FastPath) on ``device``."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:  # one key per card for the probe's cache: cuda == cuda:0
        device = torch.device("cuda", torch.cuda.current_device())
    if precision == "auto":
        return torch.bfloat16 if bf16_is_native(device) and bf16_is_faster(device) else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float32


def autocast(dtype: torch.dtype, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for dtype bf16; nothing for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextlib.contextmanager
def compact_activations(enabled: bool = True) -> Iterator[None]:
    """Store the float32 activations autograd saves for backward in bf16 within the block.

    Only tensors on the gradient path (``requires_grad``) are compacted: frozen weights and integer
    indices are kept exactly. The backward pass then sees activations rounded to bf16 (8 bits of mantissa).
    A tensor saved twice in a row (a ReLU's output, then the next convolution's input) is stored once:
    the last few originals are held, so a match on (address, layout, version) is always the same tensor.
    """
    if not enabled:
        yield
        return
    recent: OrderedDict[tuple[Any, ...], tuple[torch.Tensor, tuple[torch.Tensor]]] = OrderedDict()

    def pack(tensor: torch.Tensor) -> Any:
        if tensor.dtype != torch.float32 or not tensor.requires_grad or tensor.numel() < COMPACT_MIN_NUMEL:
            return tensor
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride(),
               tensor._version)
        if key not in recent:
            recent[key] = (tensor, (tensor.to(torch.bfloat16),))
            if len(recent) > RECENT_SAVES:
                recent.popitem(last=False)
        return recent[key][1]

    def unpack(saved: Any) -> torch.Tensor:
        return saved[0].float() if isinstance(saved, tuple) else saved

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        yield
    recent.clear()


def networks_of(objective: nn.Module) -> list[nn.Module]:
    """The networks an objective calls: its direct submodules, looking inside ModuleDict and ModuleList."""
    found: list[nn.Module] = []
    for child in objective.children():
        found += networks_of(child) if isinstance(child, (nn.ModuleDict, nn.ModuleList)) else [child]
    return found


@contextlib.contextmanager
def repeated_batch(objective: nn.Module, images: torch.Tensor, k: int) -> Iterator[torch.Tensor]:
    """Yield ``images`` repeated k times along the batch; inside the block, a network of ``objective`` (see
    networks_of) called on exactly that tensor runs on ``images`` once and repeats its output k times.

    Frozen eval-mode networks score each image on its own, so this equals running them on the repeated
    batch: an objective's target for k step sizes per image then costs one pass of its assessors.
    """
    repeated = images.repeat(k, *[1] * (images.dim() - 1))
    collapsed: set[int] = set()

    def before(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if not args or args[0] is not repeated:
            return None
        collapsed.add(id(module))
        return (images, *args[1:])

    def after(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        if id(module) not in collapsed:
            return None
        collapsed.discard(id(module))
        return tree_map(lambda t: t.repeat(k, *[1] * (t.dim() - 1)) if isinstance(t, torch.Tensor) else t, output)

    handles = [hook for m in networks_of(objective)
               for hook in (m.register_forward_pre_hook(before), m.register_forward_hook(after))]
    try:
        yield repeated
    finally:
        for handle in handles:
            handle.remove()


def freeze_spectral_norms(module: nn.Module) -> int:
    """Replace every spectral-norm hook of a frozen, eval-mode ``module`` by its fixed weight; return how many.

    In eval mode the hook computes the same weight_orig / σ at every call, so this changes no output.
    """
    if module.training or any(p.requires_grad for p in module.parameters()):
        raise ValueError("freeze_spectral_norms needs a frozen module in eval mode (its weights would be fixed)")
    count = 0
    for sub in module.modules():
        names = [hook.name for hook in sub._forward_pre_hooks.values() if isinstance(hook, SpectralNorm)]
        for name in names:
            remove_spectral_norm(sub, name)
            getattr(sub, name).requires_grad_(False)
            count += 1
    return count
