"""ganalyze-bench: our training step against a re-creation of the published one, on the same models and inputs.

For each world (BigGAN-deep-128 + MemNet, both randomly initialised; the shapes world) and device, one
fresh worker process builds the models once, then times, interleaved step by step, the reference-style
step (ganalyze.reference_step, batch 4) and our step (ganalyze.training.train_step with the default fast
path, on its own prepared copy of the models) at batch 4 and at each candidate batch. It reports
samples/s, peak memory, FLOPs (torch.utils.flop_counter's formulas) and the achieved FLOP/s as a fraction of a
large matmul of the same dtype timed in the same process, and the step's roofline (ganalyze.roofline): the time
if every operation ran at that matmul peak or at the memory bandwidth of a large copy, whichever binds.

Time: wall clock, and on CPU also the process's CPU time, which a machine shared with other jobs
inflates far less (the speed-ups on CPU are given on both). Utilisation divides FLOPs per CPU-second
(CPU) or per second (CUDA) by the same quantity for the matmul.

Peak memory: on CPU, the peak resident set (getrusage ru_maxrss, reset before every step through
/proc/self/clear_refs after malloc_trim) minus the resident set before the step, with glibc's mmap
threshold fixed at 64 KiB in the worker so that freed tensors leave the resident set (with glibc's
default, fragmentation hides what a step needs); on CUDA, torch.cuda.max_memory_allocated minus
memory_allocated before the step. Both count the step's own tensors, not the models' weights.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from assessors.registry import create_assessor
from ganalyze.atomic import write_json, write_text
from ganalyze.cli.errors import reports_errors
from ganalyze.errors import ConfigError, GanalyzeError
from ganalyze.evaluation import EvalSettings
from ganalyze.fast_path import PLAIN, FastPath, compute_dtype, prepare_frozen
from ganalyze.memory_budget import check_bytes, check_fits
from ganalyze.roofline import count_operations, roofline
from ganalyze.typed_settings import output_file

REFERENCE_BATCH = 4
MAX_THREADS = 1024
BANDWIDTH_MIB = {"cpu": 256, "cuda": 2048}  # the copy that measures memory bandwidth: far beyond the caches
STEP_COPIES = 4  # a step holds at least the batch's images, their gradients and two activations as large
FAST_PATH_NOTE = (f"the default fast path {asdict(FastPath())}: each latent's target is computed once for "
                  f"{FastPath().alphas_per_latent} step sizes, so a batch of b samples holds b/{FastPath().alphas_per_latent} "
                  "latents; precision auto is bf16 only where the hardware runs it natively and faster "
                  "(the dtype column says which).")
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}  # see the module doc, "Peak memory"
ALPHA_RANGE = (-0.5, 0.5)  # the reference's default training range
WORLDS: dict[str, dict[str, Any]] = {
    # generator config file (conf/generator), its overrides, assessor name, its options, default candidate batches,
    # the generator's image side (for the memory estimate of a batch)
    "biggan": {"generator": "biggan_deep_128", "generator_options": {"pretrained": False},
               "assessor": "memnet", "assessor_options": {"pretrained": False}, "batches": [4, 8, 16], "resolution": 128},
    "shapes": {"generator": "shapes", "generator_options": {},
               "assessor": "shapes_size", "assessor_options": {}, "batches": [4, 16, 64, 256], "resolution": 32},
    # A miniature for tests of the harness itself: a 32 px random BigGAN and the brightness assessor.
    "tiny": {"generator": "tiny_biggan", "generator_options": {},
             "assessor": "brightness", "assessor_options": {}, "batches": [4, 8], "resolution": 32},
}


@dataclass(frozen=True)
class Variant:
    """One timed configuration: the reference step, or ours with a fast path and name, at a batch size."""

    step: str
    batch: int
    fast: FastPath = field(default_factory=FastPath)

    def __hash__(self) -> int:  # FastPath is a Hydra schema, so mutable and unhashable: hash its values
        return hash((self.step, self.batch, tuple(asdict(self.fast).values())))


def variants_for(batches: list[int], ablation: bool, settings: list[dict[str, Any]] = ()) -> list[Variant]:
    """The reference at its batch of 4, ours at 4 and each candidate batch; with ``ablation``, ours at 4
    with the plain step and with each fast-path setting flipped in turn; for each of ``settings`` (fast-path
    settings, e.g. {"compile": True}), ours with them at each batch."""
    ours = [Variant("ours", b) for b in sorted(set([REFERENCE_BATCH] + batches))]
    extra = [Variant(f"ours[{','.join(f'{k}={v}' for k, v in changes.items())}]", v.batch, replace(v.fast, **changes))
             for changes in settings for v in ours]
    if ablation:
        default = FastPath()
        extra += [Variant("ours[plain]", REFERENCE_BATCH, PLAIN)] + [
            Variant(f"ours[{key}={value}]", REFERENCE_BATCH, replace(default, **{key: value}))
            for key, value in (("alphas_per_latent", 1), ("channels_last", False), ("compact_activations", True),
                               ("compile", True))
        ]
    return list(dict.fromkeys([Variant("reference", REFERENCE_BATCH)] + ours + extra))


@dataclass
class Result:
    """What was measured for one variant in one world on one device."""

    world: str
    device: str
    step: str
    batch: int
    dtype: str
    step_seconds: list[float]
    step_cpu_seconds: list[float]
    samples_per_s: float
    samples_per_cpu_s: float
    peak_bytes: int
    peak_bytes_per_sample: float
    flops_per_step: int
    flops_per_s: float
    matmul_flops_per_s: float
    utilisation: float
    bytes_per_step: int  # every operation's tensors read and written once (ganalyze.roofline)
    memory_bytes_per_s: float
    roofline_seconds: float  # the step if every operation ran at the matmul peak or the bandwidth, whichever binds
    roofline_fraction: float  # roofline_seconds / the measured step (CPU seconds on CPU): 1 = at the roofline
    roofline_kinds: dict[str, dict[str, float]]  # ganalyze.roofline.KindCost per kind of operation


# ---------------------------------------------------------------- models and steps

def build_world(world: str, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The frozen generator and assessor of a world, on ``device``."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    spec = WORLDS[world]
    config = OmegaConf.load(files("ganalyze.conf") / "generator" / f"{spec['generator']}.yaml")
    generator = instantiate(config, **spec["generator_options"])
    assessor = create_assessor(spec["assessor"], **spec["assessor_options"])
    return generator.to(device).eval().requires_grad_(False), assessor.to(device)


def make_inputs(generator: torch.nn.Module, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """A fixed pool of latents, class ids and α (float64 NumPy, as the reference draws it) shared by all variants."""
    z, y = generator.sample_latents(n, seed)
    alpha = np.random.RandomState(seed).uniform(*ALPHA_RANGE, size=n)
    return z, y, alpha


def prepared_models(generator: torch.nn.Module, assessor: torch.nn.Module, fast: FastPath,
                    cache: dict[tuple[Any, ...], tuple[torch.nn.Module, torch.nn.Module]]
                    ) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The models as our step runs them: the originals for the plain step, else one prepared copy per layout."""
    if fast == PLAIN:
        return generator, assessor
    key = (fast.channels_last, fast.compile, fast.memory_budget if fast.compile else None)  # the budget acts only compiled
    if key not in cache:
        cache[key] = (prepare_frozen(copy.deepcopy(generator), fast), prepare_frozen(copy.deepcopy(assessor), fast))
    return cache[key]


def make_step(variant: Variant, generator: torch.nn.Module, assessor: torch.nn.Module,
              inputs: tuple[torch.Tensor, torch.Tensor, np.ndarray], device: torch.device) -> Callable[[], None]:
    """A closure running one step of ``variant`` on the first ``batch`` inputs of the pool.

    Our step takes batch / k latents and batch step sizes (k = alphas_per_latent): ``batch`` counts
    training samples (latent, α) in both steps.
    """
    z, y, alpha = (v[: variant.batch] for v in inputs)
    if variant.step == "reference":
        from ganalyze.reference_step import ReferenceStep

        reference = ReferenceStep(generator, assessor, device)
        return lambda: reference(z, y, alpha)
    from ganalyze.objectives.score import ScoreObjective
    from ganalyze.training import train_step
    from ganalyze.transformers.linear import LinearTransformer

    k = variant.fast.alphas_per_latent
    if variant.batch % k:
        raise ConfigError(f"batch {variant.batch} must be a multiple of alphas_per_latent={k}.")
    transformer = LinearTransformer(generator.dim_z).to(device)
    objective = ScoreObjective(assessor)
    optimizer = torch.optim.Adam(transformer.parameters(), lr=1e-3)
    n = variant.batch // k
    z, y, alpha_t = z[:n].to(device), y[:n].to(device), torch.from_numpy(alpha).float().to(device)
    return lambda: train_step(generator, transformer, objective, optimizer, z, y, alpha_t, fast=variant.fast)


# ---------------------------------------------------------------- measurements

class PeakMemory:
    """Peak memory of a piece of work above what was in use when ``reset`` was called (see module doc)."""

    def __init__(self, device: torch.device):
        self.device, self.base = device, 0
        self.libc = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None

    @property
    def method(self) -> str:
        if self.device.type == "cuda":
            return "torch.cuda.max_memory_allocated - memory_allocated before the step"
        return "getrusage ru_maxrss (reset per step via /proc/self/clear_refs after malloc_trim) - VmRSS before the step"

    def reset(self) -> None:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            return
        if self.libc is None:
            raise ConfigError("CPU peak memory is measured through Linux /proc; run the benchmark on Linux.")
        self.libc.malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak resident set to the current one
        self.base = _resident_bytes()

    def peak(self) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) - self.base
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.base


def _resident_bytes() -> int:
    """The current resident set of this process (VmRSS), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def count_flops(step: Callable[[], None]) -> int:
    """FLOPs of one call of ``step`` (matmuls and convolutions, forward and backward) by torch's formulas."""
    return sum(op.flops for op in count_operations(step))


def best_seconds(device: torch.device, work: Callable[[], Any], repeats: int) -> dict[str, float]:
    """The shortest wall and CPU seconds of ``repeats`` runs of ``work``, after one run that warms up."""
    best = {"wall": float("inf"), "cpu": float("inf")}
    for _ in range(repeats + 1):
        start = _clocks(device)
        work()
        end = _clocks(device)
        best = {k: min(best[k], end[k] - start[k]) for k in best}
    return best


def matmul_flops_per_s(device: torch.device, dtype: torch.dtype, size: int, repeats: int = 3) -> dict[str, float]:
    """The best FLOP/s (wall and CPU time) of ``repeats`` square products: the machine's practical limit."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    return {k: 2 * size**3 / v for k, v in best_seconds(device, lambda: torch.mm(a, b), repeats).items()}


def memory_bandwidth(device: torch.device, mebibytes: int, repeats: int = 3) -> dict[str, float]:
    """The best bytes/s (wall and CPU time) of copying ``mebibytes`` MiB into another buffer (read once, written
    once, too large for the caches; the warm-up copy pages the target in): the roofline's memory limit."""
    source = torch.ones(mebibytes * 2**18, device=device)  # 4-byte floats
    target = torch.empty_like(source)
    return {k: 2 * mebibytes * 2**20 / v for k, v in best_seconds(device, lambda: target.copy_(source), repeats).items()}


def _clocks(device: torch.device) -> dict[str, float]:
    """Wall-clock and process CPU time now (after the device has finished its queued work)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"wall": time.perf_counter(), "cpu": time.process_time()}


# ---------------------------------------------------------------- one world on one device (worker process)

def run_world(world: str, device_name: str, batches: list[int], steps: int, matmul_size: int,
              ablation: bool = False, settings: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """Time every variant of one world on one device, interleaving their steps; return results as JSON-able."""
    device = torch.device(device_name)
    generator, assessor = build_world(world, device)
    variants = variants_for(batches, ablation, settings)
    inputs = make_inputs(generator, max(v.batch for v in variants))
    memory = PeakMemory(device)
    cache: dict[tuple[Any, ...], tuple[torch.nn.Module, torch.nn.Module]] = {}

    def runner(v: Variant) -> Callable[[], None]:
        models = (generator, assessor) if v.step == "reference" else prepared_models(generator, assessor, v.fast, cache)
        return make_step(v, *models, inputs, device)

    runners = {v: runner(v) for v in variants}
    # Decided first: the precision probe (fast_path.bf16_is_faster) must not run inside the FLOP counter.
    dtypes = {v: torch.float32 if v.step == "reference" else compute_dtype(v.fast.precision, device) for v in variants}
    # Counting operations doubles as the warm-up step. Compiled code hides its operations from the counter, so a
    # compiled variant takes the count of its eager twin (the useful work: recomputation under a memory
    # budget is not counted) and its warm-up is timed instead.
    operations = {v: count_operations(run) for v, run in runners.items() if not v.fast.compile}
    compile_seconds: dict[Variant, float] = {}
    for v in (v for v in variants if v.fast.compile):
        start = time.perf_counter()
        runners[v]()
        compile_seconds[v] = time.perf_counter() - start
        twin = Variant("ours", v.batch, replace(v.fast, compile=False, memory_budget=FastPath().memory_budget))
        operations[v] = operations[twin] if twin in operations else count_operations(runner(twin))
    wall: dict[Variant, list[float]] = {v: [] for v in variants}
    cpu: dict[Variant, list[float]] = {v: [] for v in variants}
    peaks: dict[Variant, int] = {v: 0 for v in variants}
    matmul = {dtype: matmul_flops_per_s(device, dtype, matmul_size) for dtype in set(dtypes.values())}
    bandwidth = memory_bandwidth(device, BANDWIDTH_MIB[device.type])
    for _ in range(steps):
        for variant, run in runners.items():
            memory.reset()
            start = _clocks(device)
            run()
            end = _clocks(device)
            wall[variant].append(end["wall"] - start["wall"])
            cpu[variant].append(end["cpu"] - start["cpu"])
            peaks[variant] = max(peaks[variant], memory.peak())
    for dtype in matmul:  # again after the steps: the best of both, in case the machine was busier before
        again = matmul_flops_per_s(device, dtype, matmul_size)
        matmul[dtype] = {k: max(matmul[dtype][k], again[k]) for k in again}
    again = memory_bandwidth(device, BANDWIDTH_MIB[device.type])
    bandwidth = {k: max(bandwidth[k], again[k]) for k in again}
    clock = "cpu" if device.type == "cpu" else "wall"
    results = []
    for v in variants:
        seconds, cpu_seconds = statistics.median(wall[v]), statistics.median(cpu[v])
        measured = cpu_seconds if clock == "cpu" else seconds
        peak, flops = matmul[dtypes[v]][clock], sum(op.flops for op in operations[v])
        kinds = roofline(operations[v], peak, bandwidth[clock])
        bound = sum(k.bound_seconds for k in kinds.values())
        results.append(Result(world, device_name, v.step, v.batch, str(dtypes[v]).removeprefix("torch."),
                              wall[v], cpu[v], v.batch / seconds, v.batch / cpu_seconds, peaks[v], peaks[v] / v.batch,
                              flops, flops / measured, peak, flops / measured / peak,
                              sum(k.bytes for k in kinds.values()), bandwidth[clock], bound, bound / measured,
                              {name: asdict(k) for name, k in kinds.items()}))
    return {"results": [asdict(r) | {"fast": asdict(v.fast) if v.step != "reference" else None,
                                     "compile_seconds": compile_seconds.get(v)} for r, v in zip(results, variants)],
            "matmul_flops_per_s": {str(d).removeprefix("torch."): m for d, m in matmul.items()},
            "memory_bytes_per_s": bandwidth, "memory_method": memory.method, "utilisation_clock": clock}


def machine_description(device_name: str) -> str:
    """A short name of the processor (or GPU) the numbers were measured on."""
    if device_name.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device_name))
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


# ---------------------------------------------------------------- summary

def add_ratios(results: list[dict[str, Any]]) -> None:
    """Add to every row its speed (wall and CPU time) and memory per sample relative to its world's reference row."""
    for row in results:
        ref = next(r for r in results if r["world"] == row["world"] and r["device"] == row["device"]
                   and r["step"] == "reference")
        row["speedup_vs_reference"] = row["samples_per_s"] / ref["samples_per_s"]
        row["cpu_speedup_vs_reference"] = row["samples_per_cpu_s"] / ref["samples_per_cpu_s"]
        row["memory_per_sample_vs_reference"] = (row["peak_bytes_per_sample"] / ref["peak_bytes_per_sample"]
                                                 if ref["peak_bytes_per_sample"] > 0 else None)


def best_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our fastest batch (default fast path, by CPU time on CPU) in each world and device."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in results:
        key = (row["world"], row["device"])
        speed = "samples_per_cpu_s" if row["device"] == "cpu" else "samples_per_s"
        if row["step"] == "ours" and (key not in best or row[speed] > best[key][speed]):
            best[key] = row
    return list(best.values())


def markdown_table(report: dict[str, Any]) -> str:
    """The results as a markdown table, our best batch per world marked with *."""
    best = {id(r) for r in best_rows(report["results"])}
    lines = [
        f"Machine: {report['machine']}; torch {report['torch']}; {report['threads']} CPU thread(s); "
        f"{report['steps']} timed steps per row (median); load average {report['load_average_start'][0]:.1f} "
        f"at the start, {report['load_average_end'][0]:.1f} at the end.",
        "",
        "| world | device | step | batch | dtype | samples/s | × ref | samples/CPU-s | × ref | peak MiB | MiB/sample "
        "| × ref | GFLOP/sample | % of matmul peak | MB moved/sample | % of roofline |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        mem_ratio = r["memory_per_sample_vs_reference"]
        lines.append(
            f"| {r['world']} | {r['device']} | {r['step']}{' *' if id(r) in best else ''} | {r['batch']} | {r['dtype']} "
            f"| {r['samples_per_s']:.3g} | {r['speedup_vs_reference']:.2f} | {r['samples_per_cpu_s']:.3g} "
            f"| {r['cpu_speedup_vs_reference']:.2f} | {r['peak_bytes'] / 2**20:.0f} "
            f"| {r['peak_bytes_per_sample'] / 2**20:.1f} | {'-' if mem_ratio is None else f'{mem_ratio:.2f}'} "
            f"| {r['flops_per_step'] / r['batch'] / 1e9:.3g} | {100 * r['utilisation']:.1f} "
            f"| {r['bytes_per_step'] / r['batch'] / 1e6:.3g} | {100 * r['roofline_fraction']:.1f} |"
        )
    peaks = ", ".join(f"{name} {v['cpu' if name.startswith('cpu') else 'wall'] / 1e9:.1f} GFLOP/s"
                      for name, v in report["matmul_flops_per_s"].items())
    compiled = "".join(f" Compilation of {r['world']} {r['step']}@{r['batch']}: {r['compile_seconds']:.0f} s (first step, wall clock)."
                       for r in report["results"] if r.get("compile_seconds") is not None)
    bandwidths = ", ".join(f"{name} {v['cpu' if name == 'cpu' else 'wall'] / 1e9:.1f} GB/s"
                           for name, v in report["memory_bytes_per_s"].items())
    lines += ["", f"Peak memory: {'; '.join(sorted(set(report['memory_methods'])))}. Matmul peak (best square "
                  f"product; per CPU-second on CPU): {peaks}. Memory bandwidth (best copy of "
                  f"{'/'.join(f'{m} MiB' for m in BANDWIDTH_MIB.values())} on CPU/CUDA): {bandwidths}. "
                  f"Our step: {report['fast_path_note']}{compiled}", "", roofline_table(report)]
    return "\n".join(lines)


def roofline_table(report: dict[str, Any]) -> str:
    """Where the roofline of our best step in each world goes, per kind of operation (ganalyze.roofline)."""
    lines = ["Roofline of our best step (*) per kind of operation: each operation bound by the matmul peak or by "
             "the bandwidth, whichever is slower, its tensors read and written once (fusion and caches can beat it).",
             "", "| world | device | kind | operations | GFLOP/sample | MB/sample | roofline ms/sample | share of the "
             "roofline | FLOP-bound operations |", "|---|---|---|---|---|---|---|---|---|"]
    for r in best_rows(report["results"]):
        total = r["roofline_seconds"]
        for kind, k in r["roofline_kinds"].items():
            lines.append(f"| {r['world']} | {r['device']} | {kind} | {k['operations']} | {k['flops'] / r['batch'] / 1e9:.3g} "
                         f"| {k['bytes'] / r['batch'] / 1e6:.3g} | {1e3 * k['bound_seconds'] / r['batch']:.3g} "
                         f"| {k['bound_seconds'] / total:.0%} | {k['flop_bound_operations']} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- the whole job (--job)

BIGGAN_JOB = ["generator=biggan_deep_128", "generator.pretrained=false", "assessor=memnet", "assessor.pretrained=false",
              "train.steps=2", "train.batch_size=4", "eval.random_directions=1"]
JOBS: dict[str, list[str]] = {
    # ganalyze-train overrides of each job (besides logger=none, run_dir and threads)
    "main": [],  # the README's main job: the shapes world's size direction, default settings
    # BigGAN-deep-128 + MemNet with random weights (the published architecture and cost): a short training and an
    # evaluation of 50 seeds x 9 α x 2 directions (the trained one and one random baseline)
    "biggan": [*BIGGAN_JOB, "eval.num_seeds=50"],
    "biggan_small": [*BIGGAN_JOB, "eval.num_seeds=8"],  # the same with 8 seeds (its visual definition's): a quick look
    "biggan_batch8": [*BIGGAN_JOB, "eval.num_seeds=50", "eval.batch_size=8"],  # the biggan job in batches of 8 images
    # a miniature for tests of the harness: a 32 px random BigGAN and the brightness assessor
    "tiny": ["generator=tiny_biggan", "assessor=brightness", "train.steps=2", "train.batch_size=4",
             "eval.num_seeds=4", "eval.random_directions=2", "eval.grid_seeds=2"],
}
# the straightforward evaluation (evaluate(fast=None)) at the default eval.batch_size, the default (the run's
# train.fast, the job's batch), and the default with the frozen networks' forward compiled at the evaluation's start
# (as train.fast.compile=true compiles them for training)
EVALUATIONS = ("today", "once", "compiled")
PARTS = ("generator", "assessor")  # networks whose forward time inside the evaluation is reported on its own


def time_job(job: str, evaluation: str, folder: Path) -> dict[str, dict[str, float]]:
    """Run the whole ganalyze-train job ``job`` into ``folder`` with the ``evaluation`` way; return the wall and
    CPU seconds of the job (from composing its config to its end), of its training and of its evaluation."""
    from unittest import mock

    from ganalyze import jobs
    from ganalyze.settings import job_config, to_settings

    device = torch.device("cpu")
    seconds: dict[str, dict[str, float]] = {}

    def timed(name: str, work: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = _clocks(device)
            result = work(*args, **kwargs)
            end = _clocks(device)
            seconds[name] = {k: end[k] - start[k] for k in end}
            return result
        return run

    evaluate, build_roles, run_evaluation = jobs.evaluate, jobs.build_roles, jobs.evaluation_job
    parts = {part: {"wall": 0.0, "cpu": 0.0} for part in PARTS}
    evaluating = [False]

    def clocked(module: torch.nn.Module, part: str) -> None:  # its forward's seconds while the evaluation runs
        started: list[dict[str, float]] = []
        module.register_forward_pre_hook(lambda *_: started.append(_clocks(device)) if evaluating[0] else None)

        def stop(*_: Any) -> None:
            if started:
                end, start = _clocks(device), started.pop()
                for clock in end:
                    parts[part][clock] += end[clock] - start[clock]
        module.register_forward_hook(stop)

    def roles_clocked(*args: Any, **kwargs: Any) -> Any:
        roles = build_roles(*args, **kwargs)
        clocked(roles.generator, "generator")
        clocked(roles.assessor, "assessor")
        return roles

    def evaluation_job(*args: Any, **kwargs: Any) -> Any:
        evaluating[0] = True
        try:
            return run_evaluation(*args, **kwargs)
        finally:
            evaluating[0] = False

    def today(generator: torch.nn.Module, transformer: Any, assessor: torch.nn.Module, alpha_range: Any,
              settings: EvalSettings, *args: Any, **kwargs: Any) -> Any:  # today's evaluation at today's default batch
        default = replace(settings, batch_size=EvalSettings.batch_size)
        return evaluate(generator, transformer, assessor, alpha_range, default, *args, **{**kwargs, "fast": None})

    def compiled(generator: torch.nn.Module, transformer: Any, assessor: torch.nn.Module, *args: Any, **kwargs: Any) -> Any:
        for network in (generator, assessor):  # as the training compiles them (the evaluation itself never does)
            prepare_frozen(network, replace(kwargs["fast"], compile=True))
        return evaluate(generator, transformer, assessor, *args, **kwargs)

    overrides = JOBS[job] + ["logger=none", f"run_dir={folder}", f"threads={torch.get_num_threads()}"]
    way = {"today": today, "once": evaluate, "compiled": compiled}[evaluation]
    with mock.patch.object(jobs, "train", timed("training", jobs.train)), \
            mock.patch.object(jobs, "build_roles", roles_clocked), \
            mock.patch.object(jobs, "evaluation_job", timed("evaluation", evaluation_job)), \
            mock.patch.object(jobs, "evaluate", way):
        timed("job", lambda: jobs.train_job(to_settings(job_config(overrides))))()
    seconds.update({f"evaluation_{part}": clocks for part, clocks in parts.items()})
    return seconds


def job_rows(measured: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per job and evaluation way: median seconds of each phase (the process: also Python's start and imports),
    the shares outside training and in the evaluation (by wall and CPU time), and the speed-ups over the first way
    measured (today's, by default)."""
    rows = []
    for job in dict.fromkeys(m["job"] for m in measured):
        ways = list(dict.fromkeys(m["evaluation"] for m in measured if m["job"] == job))
        for way in ways:
            runs = [m["seconds"] for m in measured if m["job"] == job and m["evaluation"] == way]
            row: dict[str, Any] = {"job": job, "evaluation": way, "runs": len(runs)}
            phases = ["process", "job", "training", "evaluation", *(f"evaluation_{p}" for p in PARTS if
                                                                      all(f"evaluation_{p}" in r for r in runs))]
            for phase in phases:
                for clock in ("wall", "cpu"):
                    row[f"{phase}_{clock}_s"] = statistics.median(r[phase][clock] for r in runs)
            if "evaluation_generator" in phases:  # the rest: scores' bookkeeping, measurement, files and pictures
                for clock in ("wall", "cpu"):
                    row[f"evaluation_rest_{clock}_s"] = row[f"evaluation_{clock}_s"] - sum(
                        row[f"evaluation_{p}_{clock}_s"] for p in PARTS)
            for clock in ("wall", "cpu"):
                row[f"outside_training_share_{clock}"] = 1 - row[f"training_{clock}_s"] / row[f"job_{clock}_s"]
                row[f"evaluation_share_{clock}"] = row[f"evaluation_{clock}_s"] / row[f"job_{clock}_s"]
                row[f"evaluation_share_of_process_{clock}"] = row[f"evaluation_{clock}_s"] / row[f"process_{clock}_s"]
            rows.append(row)
        before = rows[-len(ways)]
        for row in rows[-len(ways):]:
            for phase in ("job", "evaluation"):
                for clock in ("wall", "cpu"):
                    row[f"{phase}_speedup_{clock}"] = before[f"{phase}_{clock}_s"] / row[f"{phase}_{clock}_s"]
    return rows


def job_table(report: dict[str, Any]) -> str:
    """The --job rows as a markdown table (seconds as wall / CPU)."""
    first = report["job_rows"][0]["evaluation"]
    how = (f"merged from {len(report['merged_from'])} reports (ways run in separate commands; each run's load "
           "averages in its measured entry)" if "merged_from" in report else "alternating")
    lines = [f"Machine: {report['machine']}; torch {report['torch']}; {report['threads']} CPU thread(s); "
             f"{report['repeats']} run(s) per row (median), {how}; load average "
             f"{report['load_average_start'][0]:.1f} at the start, {report['load_average_end'][0]:.1f} at the end.",
             "",
             "| job | evaluation | process s | job s | training s | evaluation s | outside training (of job) "
             f"| evaluation share (of job) | evaluation share (of process) | evaluation × {first} | job × {first} |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["job_rows"]:
        pair = lambda key, f="{:.1f}": f"{f.format(r[key + '_wall_s'])} / {f.format(r[key + '_cpu_s'])}"  # noqa: E731
        lines.append(f"| {r['job']} | {r['evaluation']} | {pair('process')} | {pair('job')} | {pair('training')} "
                     f"| {pair('evaluation')} "
                     f"| {r['outside_training_share_wall']:.0%} / {r['outside_training_share_cpu']:.0%} "
                     f"| {r['evaluation_share_wall']:.0%} / {r['evaluation_share_cpu']:.0%} "
                     f"| {r['evaluation_share_of_process_wall']:.0%} / {r['evaluation_share_of_process_cpu']:.0%} "
                     f"| {r['evaluation_speedup_wall']:.2f} / {r['evaluation_speedup_cpu']:.2f} "
                     f"| {r['job_speedup_wall']:.2f} / {r['job_speedup_cpu']:.2f} |")
    lines += ["", "Seconds and ratios as wall clock / CPU time. process: the worker process from start to end "
                  "(Python's start and imports too); job: from composing the config to the job's end. today: every image of every direction "
                  "generated and judged in full (evaluate(fast=None)) at the default eval.batch_size, whatever the job sets; once: each image generated once and judged "
                  "by every judge that needs it, on networks prepared for the fast path (the default); compiled: once, "
                  "with the frozen networks' forward compiled (train.fast.compile=true; the time includes compiling)."]
    split = [r for r in report["job_rows"] if "evaluation_rest_wall_s" in r]
    if split:
        lines += ["", "Where the evaluation's time goes (seconds, wall / CPU): the generator's forward, the assessor's "
                      "(MemNet: its ten crops), and the rest (measurement, metrics, files and pictures).", "",
                  "| job | evaluation | evaluation s | generator s | assessor s | rest s |", "|---|---|---|---|---|---|"]
        for r in split:
            pair = lambda key: f"{r[key + '_wall_s']:.1f} / {r[key + '_cpu_s']:.1f}"  # noqa: E731
            lines.append(f"| {r['job']} | {r['evaluation']} | {pair('evaluation')} | {pair('evaluation_generator')} "
                         f"| {pair('evaluation_assessor')} | {pair('evaluation_rest')} |")
    return "\n".join(lines)


def run_jobs(args: argparse.Namespace) -> int:
    """ganalyze-bench --job: each job of --jobs run whole, today's evaluation and ours alternating, one process each."""
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = [j for j in jobs if j not in JOBS]
    if unknown or not jobs or args.repeats <= 0:
        raise ConfigError(f"--jobs={args.jobs!r} must name jobs from {', '.join(JOBS)} (unknown: {unknown}) and "
                          f"--repeats={args.repeats} must be positive, e.g. --job --jobs main --repeats 2.")
    ways = list(dict.fromkeys(w.strip() for w in args.evaluations.split(",") if w.strip()))
    if not ways or any(w not in EVALUATIONS for w in ways):
        raise ConfigError(f"--evaluations={args.evaluations!r} must name evaluation ways from {', '.join(EVALUATIONS)} "
                          "(the first is the one the others are compared with), e.g. --evaluations today,once.")
    report: dict[str, Any] = {"machine": machine_description("cpu"), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                              "torch": torch.__version__, "threads": args.threads, "repeats": args.repeats,
                              "evaluations": ways, "load_average_start": os.getloadavg(), "measured": []}
    for job in jobs:
        for repeat in range(args.repeats):
            for way in ways:
                print(f"ganalyze-bench: job {job}, evaluation {way}, run {repeat + 1} ...", file=sys.stderr)
                start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
                measured = run_job_in_subprocess({"job": job, "evaluation": way}, args.threads)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                measured["seconds"]["process"] = {
                    "wall": time.perf_counter() - start,
                    "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}
                report["measured"].append(measured)
    report["load_average_end"] = os.getloadavg()
    return write_job_report(report, args.out)


def write_job_report(report: dict[str, Any], out: str) -> int:
    """Add the rows and the table to a --job report of measured runs, write it and print the table."""
    report["job_rows"] = job_rows(report["measured"])
    report["markdown"] = job_table(report)
    write_json(out, report)
    print(report["markdown"])
    print(f"\nJSON report: {out}")
    return 0


def merge_jobs(paths: list[str], out: str) -> int:
    """ganalyze-bench --job --merge: one report of the runs of several --job reports (e.g. ways run at the same time
    in separate commands on a busy machine), in the order given; each run keeps its own load averages."""
    reports = []
    for path in paths:
        try:
            reports.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as err:
            raise ConfigError(f"--merge {path}: not a readable ganalyze-bench --job report ({err}).") from None
        if not isinstance(reports[-1].get("measured"), list):
            raise ConfigError(f"--merge {path}: holds no measured runs; give reports written by ganalyze-bench --job.")
    first = reports[0]
    report = {**{k: first[k] for k in ("machine", "cpu_capability", "torch", "threads", "repeats")},
              "merged_from": paths,  # the busiest start and end among them; each run keeps its own below
              **{key: max((r[key] for r in reports), key=lambda a: a[0]) for key in ("load_average_start", "load_average_end")},
              "measured": [dict(m, load_average=(r["load_average_start"], r["load_average_end"]))
                           for r in reports for m in r["measured"]]}
    return write_job_report(report, out)


# ---------------------------------------------------------------- command line

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ganalyze-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--worlds", default="biggan,shapes", help=f"comma-separated, from {sorted(WORLDS)}")
    parser.add_argument("--devices", default="auto", help="comma-separated cpu,cuda; auto: cpu and cuda when present")
    parser.add_argument("--batches", default=None, help="our candidate batch sizes, comma-separated (default per world)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: two threads on a busy 2-core machine measured 8x slower)")
    parser.add_argument("--matmul-size", type=int, default=None, help="side of the peak matmul (default 2048 CPU, 8192 GPU)")
    parser.add_argument("--ablation", action="store_true",
                        help="also time ours at batch 4 as the plain step and with each fast-path setting flipped")
    parser.add_argument("--variant", action="append", default=[], metavar="SETTINGS",
                        help="also time ours with these fast-path settings at each batch, e.g. compile=true or "
                             "compile=true,memory_budget=0.3 (repeatable)")
    parser.add_argument("--job", action="store_true",
                        help="time whole ganalyze-train jobs (--jobs), today's evaluation against ours, instead of steps")
    parser.add_argument("--jobs", default="main,biggan", help=f"with --job: comma-separated, from {', '.join(JOBS)}")
    parser.add_argument("--repeats", type=int, default=1, help="with --job: runs of each job and evaluation way")
    parser.add_argument("--evaluations", default="today,once",
                        help=f"with --job: evaluation ways, comma-separated, from {', '.join(EVALUATIONS)}; "
                             "speed-ups are over the first")
    parser.add_argument("--merge", nargs="+", default=None, metavar="REPORT",
                        help="with --job: time nothing; merge these --job reports into one (speed-ups over the first way)")
    parser.add_argument("--out", default="bench.json", help="where to write the JSON report")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: one world, one device
    return parser.parse_args(argv)


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise ConfigError(f"{what}={text!r} must be positive whole numbers separated by commas, e.g. 4,8,16.")
    return values


def fast_settings(text: str) -> dict[str, Any]:
    """Fast-path settings from ``key=value,key=value`` (values typed like the FastPath fields), checked."""
    fields = FastPath.__dataclass_fields__
    changes: dict[str, Any] = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise ConfigError(f"--variant {text!r}: {item!r} is not key=value with a key from {', '.join(fields)}.")
        kind = type(getattr(FastPath(), key))
        if kind is bool and value.lower() not in ("true", "false"):
            raise ConfigError(f"--variant {text!r}: {key} takes true or false, not {value!r}.")
        try:
            changes[key] = value.lower() == "true" if kind is bool else kind(value)
        except ValueError:
            raise ConfigError(f"--variant {text!r}: {key}={value!r} is not a {kind.__name__}.") from None
    if not changes:
        raise ConfigError(f"--variant {text!r} names no setting; e.g. --variant compile=true.")
    try:
        FastPath.from_config(changes)  # checks the values
    except ConfigError as err:
        raise ConfigError(f"--variant {text!r}: {err}") from None
    return changes


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The (world, device, batches) jobs the command line asks for, checked."""
    worlds = [w.strip() for w in args.worlds.split(",") if w.strip()]
    unknown = [w for w in worlds if w not in WORLDS]
    if unknown or not worlds:
        raise ConfigError(f"--worlds={args.worlds!r}: unknown {unknown}; choose from {', '.join(sorted(WORLDS))}.")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.devices == "auto" else \
        [d.strip() for d in args.devices.split(",") if d.strip()]
    for d in devices:
        if d not in ("cpu", "cuda") and not d.startswith("cuda:"):
            raise ConfigError(f"--devices={args.devices!r}: {d!r} is not cpu, cuda or cuda:N.")
        if d.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"--devices={args.devices!r}: no CUDA device is available here; use --devices cpu.")
    if args.steps <= 0 or not 0 < args.threads <= MAX_THREADS:
        raise ConfigError(f"--steps={args.steps} and --threads={args.threads} must be positive (threads at most "
                          f"{MAX_THREADS}); e.g. --steps 3 --threads 1.")
    if args.matmul_size is not None and args.matmul_size <= 0:
        raise ConfigError(f"--matmul-size={args.matmul_size} must be positive; e.g. --matmul-size 2048.")
    jobs = [{"world": w, "device": d,
             "batches": _int_list(args.batches, "--batches") if args.batches else WORLDS[w]["batches"],
             "steps": args.steps, "ablation": args.ablation, "settings": [fast_settings(v) for v in args.variant],
             "matmul_size": args.matmul_size or (8192 if d.startswith("cuda") else 2048)}
            for w in worlds for d in devices]
    for job in jobs:
        check_fits(max(job["batches"]), WORLDS[job["world"]]["resolution"], f"--batches {max(job['batches'])} "
                   f"({job['world']} on {job['device']})", factor=STEP_COPIES, device=job["device"],
                   hint="time smaller batches, e.g. --batches 4,8,16.")
        check_bytes(3 * job["matmul_size"] ** 2 * 4, f"--matmul-size={job['matmul_size']}",
                    "lower it, e.g. --matmul-size 2048.", device=job["device"])
    return jobs


def run_job_in_subprocess(job: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one world on one device, or one whole job, in a fresh Python process (clean memory baseline, fixed
    thread count; glibc's mmap threshold fixed for the step's memory measurement only)."""
    malloc = {} if "job" in job else MALLOC_ENV
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **malloc}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "ganalyze.bench", "--threads", str(threads), "--worker",
               json.dumps({**job, "out": str(out)})]
        done = subprocess.run(cmd, env=env)
        if done.returncode != 0:
            what = f"job {job['job']} ({job['evaluation']})" if "job" in job else f"{job['world']} on {job['device']}"
            raise GanalyzeError(f"the benchmark of {what} failed (worker exit "
                                f"{done.returncode}); its output is above. Nothing was written to the report.")
        return json.loads(out.read_text())


@reports_errors("ganalyze-bench")
def main(argv: list[str] | None = None) -> int:
    """Time the jobs the command line asks for and write the JSON report (checked before any timing)."""
    args = parse_args(argv)
    if args.worker is not None:
        torch.set_num_threads(args.threads)
        job = json.loads(args.worker)
        if "job" in job:
            with tempfile.TemporaryDirectory() as folder:
                seconds = time_job(job["job"], job["evaluation"], Path(folder) / "run")
            Path(job["out"]).write_text(json.dumps({**job, "seconds": seconds}))
            return 0
        measured = run_world(job["world"], job["device"], job["batches"], job["steps"], job["matmul_size"],
                             job["ablation"], job["settings"])
        write_text(job["out"], json.dumps(measured))
        return 0
    output_file("--out", args.out, "bench.json")
    if args.job and args.merge:
        return merge_jobs(args.merge, args.out)
    if args.job:
        return run_jobs(args)
    jobs = plan(args)
    torch.set_num_threads(args.threads)
    report: dict[str, Any] = {"machine": "; ".join(sorted({machine_description(j["device"]) for j in jobs})),
                              "torch": torch.__version__, "threads": args.threads, "steps": args.steps,
                              "load_average_start": os.getloadavg(), "results": [], "matmul_flops_per_s": {},
                              "memory_bytes_per_s": {},
                              "memory_methods": [], "fast_path_note": FAST_PATH_NOTE}
    for job in jobs:
        print(f"ganalyze-bench: {job['world']} on {job['device']}, batches {job['batches']} ...", file=sys.stderr)
        measured = run_job_in_subprocess(job, args.threads)
        report["results"] += measured["results"]
        report["memory_methods"].append(measured["memory_method"])
        for dtype, value in measured["matmul_flops_per_s"].items():
            report["matmul_flops_per_s"][f"{job['device']}/{dtype}"] = value
        report["memory_bytes_per_s"][job["device"]] = measured["memory_bytes_per_s"]
    report["load_average_end"] = os.getloadavg()
    add_ratios(report["results"])
    report["markdown"] = markdown_table(report)
    write_json(args.out, report)
    print(report["markdown"])
    print(f"\nJSON report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
