"""Refuse up front what cannot fit in memory: an estimate of the bytes a size needs against what is available.

A request such as ``--num-samples 10**9`` would otherwise allocate for seconds or minutes and die with a
MemoryError traceback, sometimes after the work that mattered (training) had finished. Every estimate here
is a lower bound (the tensors that must exist at once, times a small working factor), so a refused size
could never have run, and a size that is let through may still be large: the error boundary of the commands
(``ganalyze.cli.errors``) turns a later MemoryError into one paragraph too.

Available memory: on CUDA ``torch.cuda.mem_get_info``; on the CPU the smaller of MemAvailable in /proc/meminfo
(or free pages from ``os.sysconf``) and what a cgroup limit leaves.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ganalyze.errors import ConfigError

BYTES_PER_FLOAT = 4
WORKING_FACTOR = 2  # the images themselves and at least one working copy (a batch through a model, a clamp, a cat)
CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def _read_int(path: str) -> int | None:
    """An integer file (cgroup limits), or None when absent or 'max'."""
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available() -> int | None:
    """MemAvailable from /proc/meminfo in bytes; free pages from sysconf where there is no /proc."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def available_bytes(device: str | torch.device = "cpu") -> int | None:
    """Bytes free for new tensors on ``device``; None when it cannot be told (then nothing is refused)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0]) if torch.cuda.is_available() else None
    candidates = [_meminfo_available()]
    for limit_file, usage_file in CGROUP_FILES:
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            candidates.append(max(limit - usage, 0))
    known = [c for c in candidates if c is not None]
    return min(known) if known else None


def image_bytes(n_images: int, resolution: int, channels: int = 3, bytes_per_value: int = BYTES_PER_FLOAT) -> int:
    """Bytes of ``n_images`` images of ``channels`` × ``resolution``² values."""
    return int(n_images) * int(channels) * int(resolution) ** 2 * int(bytes_per_value)


def gib(n_bytes: float) -> str:
    """Bytes as a short human size."""
    return f"{n_bytes / 2**30:.3g} GiB" if n_bytes >= 2**28 else f"{n_bytes / 2**20:.3g} MiB"


def check_bytes(needed: int, what: str, hint: str, device: str | torch.device = "cpu") -> int:
    """Refuse with one paragraph when ``needed`` bytes exceed what ``device`` has free; returns ``needed``."""
    free = available_bytes(device)
    if free is not None and needed > free:
        raise ConfigError(f"{what} needs at least {gib(needed)} of memory on {torch.device(device)}, but only "
                          f"{gib(free)} is available; {hint}")
    return needed


def check_fits(n_images: int, resolution: int, what: str, *, channels: int = 3, bytes_per_value: int = BYTES_PER_FLOAT,
               factor: float = WORKING_FACTOR, model_bytes: int = 0, device: str | torch.device = "cpu",
               hint: str = "lower it, or process fewer images at once.") -> int:
    """Refuse ``n_images`` images of ``channels`` × ``resolution``² values held at once (× ``factor`` working
    copies, + ``model_bytes``) when they cannot fit on ``device``. ``what`` names the setting, e.g.
    ``"--num-samples=1000000000"``. Returns the estimate in bytes."""
    needed = int(image_bytes(n_images, resolution, channels, bytes_per_value) * factor) + int(model_bytes)
    return check_bytes(needed, f"{what} ({n_images:,} images of {channels}x{resolution}x{resolution})", hint, device)


def module_bytes(module: torch.nn.Module) -> int:
    """Bytes of a module's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))
