"""The site's images: every run's direction applied to the same held-out seeds for each chosen class and α,
written once as PNG files, each scored by every assessor of the runs on that generator (so a click can
compare assessors on one image) and, on the shapes world, measured from pixels."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ganalyze.atomic import write_with
from ganalyze.evaluation import WorldTools, slider_alpha, world_tools
from ganalyze.explorer.runs import ExplorerRun
from ganalyze.sampling import latents_for_seeds
from ganalyze.visuals import to_pil

IMAGE_DIR = "images"
SAVE_THREADS = 8  # PNG files are written by threads: each atomic write waits on fsync, and threads overlap the waits


@dataclass(frozen=True)
class GroupPlan:
    """What to draw for runs sharing one generator: their held-out seeds and the classes to show."""

    runs: Sequence[ExplorerRun]
    seeds: Sequence[int]
    classes: Sequence[int]

    def num_images(self) -> int:
        """How many images the plan draws (runs × classes × seeds × α)."""
        return sum(len(run.alphas) for run in self.runs) * len(self.classes) * len(self.seeds)


def image_path(run: ExplorerRun, class_id: int, seed_index: int, alpha_index: int) -> str:
    """Where an image lies in the site, relative to its index.html."""
    return f"{IMAGE_DIR}/{run.id}/class{class_id}/seed{seed_index}_alpha{alpha_index}.png"


def save_png(pool: ThreadPoolExecutor, image: torch.Tensor, path: Path, bar: tqdm) -> Future:
    """Write one (3, H, W) image in [0, 1] as a PNG file at its own resolution (the page enlarges it), in ``pool``."""
    pil = to_pil(image)
    future = pool.submit(write_with, path, lambda handle: pil.save(handle, format="PNG"))
    future.add_done_callback(lambda _: bar.update(1))
    return future


def measured(tools: WorldTools | None, images: torch.Tensor) -> tuple[dict[str, list[float]], list[int] | None]:
    """The true factors of images measured from pixels and the shape classifier's classes (shapes world only)."""
    if tools is None:
        return {}, None
    factors = {name: values.tolist() for name, values in tools.measure(images.float().cpu()).items()}
    predicted = tools.classifier.to(images.device)(images).argmax(1).tolist() if tools.classifier else None
    return factors, predicted


@torch.no_grad()
def draw_group(plan: GroupPlan, out: Path, batch_size: int, bar: tqdm) -> list[dict[str, Any]]:
    """Draw, score, measure and save every image of a plan, in batches under no_grad; one record per image."""
    generator = plan.runs[0].loaded.generator
    tools = world_tools(generator, "auto")
    z, _ = latents_for_seeds(generator, plan.seeds)
    records: list[dict[str, Any]] = []
    saved: list[Future] = []
    with ThreadPoolExecutor(SAVE_THREADS) as pool:
        for run in plan.runs:
            for j, value in enumerate(run.alphas):
                records += draw_column(run, j, float(value), plan, z, tools, out, batch_size, pool, bar, saved)
    for future in saved:
        future.result()  # raises the first failed write (an OutputError naming the file)
    return records


def draw_column(run: ExplorerRun, j: int, value: float, plan: GroupPlan, z: torch.Tensor, tools: WorldTools | None,
                out: Path, batch_size: int, pool: ThreadPoolExecutor, bar: tqdm, saved: list[Future],
                ) -> list[dict[str, Any]]:
    """One α column of a run (every class and seed of the plan): draw, score with every assessor of the plan,
    measure, and queue the files in ``pool`` (their futures go to ``saved``)."""
    generator, transformer = plan.runs[0].loaded.generator, run.loaded.transformer.eval()
    device = next(transformer.parameters()).device
    alpha_dim = int(getattr(transformer, "alpha_dim", 1))
    pairs = [(c, s) for c in plan.classes for s in range(len(plan.seeds))]
    records = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        y = torch.tensor([c for c, _ in chunk], dtype=torch.long, device=device)
        zc = z[[s for _, s in chunk]].to(device)
        images = generator(transformer(zc, slider_alpha(value, len(zc), alpha_dim, 0, device), y), y)
        scores = {other.id: other.loaded.assessor(images).float().cpu().tolist() for other in plan.runs}
        factors, predicted = measured(tools, images)
        for k, (c, s) in enumerate(chunk):
            path = image_path(run, c, s, j)
            saved.append(save_png(pool, images[k], out / path, bar))
            records.append({
                "run": run.id, "seed_index": s, "seed": int(plan.seeds[s]), "class": int(c),
                "alpha_index": j, "alpha": value, "image": path,
                "scores": {rid: values[k] for rid, values in scores.items()},
                "factors": {name: values[k] for name, values in factors.items()},
                "predicted_class": None if predicted is None else int(predicted[k]),
            })
    return records
