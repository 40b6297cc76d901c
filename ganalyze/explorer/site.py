"""Build the explorer: a static site (index.html, data.js, images/, scores.json) that opens from file:// with
no server and no network; its page script and style ship in ganalyze/explorer/assets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ganalyze.atomic import write_bytes, write_json, write_text
from ganalyze.checks import is_whole
from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.explorer.images import IMAGE_DIR, GroupPlan, draw_group
from ganalyze.explorer.runs import CURVES_FILE, ExplorerRun, generator_key, generator_label, open_run
from ganalyze.generators.base import Generator
from ganalyze.generators.classes import resolve_classes
from ganalyze.sampling import held_out_seeds, latents_for_seeds

ASSETS = ("index.html", "explorer.js", "explorer.css")
RUNS_DIR = "runs"  # each run's curves, copied from its evaluation
SCORES_FILE = "scores.json"  # also marks a folder as an explorer site (rebuilt in place)
LOGGER_DIR = "wandb"  # built with logger=wandb, the logger's files sit in the site folder
ALL_CLASSES_UP_TO = 16  # generators with at most this many classes get every class by default


def class_names(generator: Generator) -> list[str] | None:
    """Names of the generator's classes: its own (ImageNet for BigGAN), the shape names on the shapes world."""
    from ganalyze.generators.shapes import ShapesGenerator
    from ganalyze.world import SHAPE_NAMES

    names = getattr(generator, "class_names", None)
    if names is None and isinstance(generator, ShapesGenerator) and generator.num_classes == len(SHAPE_NAMES):
        names = SHAPE_NAMES
    return list(names) if names else None


def default_classes(runs: Sequence[ExplorerRun], seeds: Sequence[int]) -> list[int]:
    """Every class of a small generator; else the runs' trained and evaluated classes, or, when they name none,
    the classes the evaluation drew for the shown seeds."""
    generator = runs[0].loaded.generator
    if generator.num_classes <= ALL_CLASSES_UP_TO:
        return list(range(generator.num_classes))
    names = class_names(generator)
    ids: list[int] = []
    for run in runs:
        cfg = run.loaded.config
        for listed in (cfg.train.get("classes"), cfg.eval.get("classes"), cfg.eval.get("grid_classes")):
            if listed is not None:
                ids += resolve_classes(list(listed), generator.num_classes, names) or []
    if not ids:
        ids = latents_for_seeds(generator, seeds, runs[0].loaded.config.eval.get("classes"))[1].tolist()
    return sorted(dict.fromkeys(ids))


def chosen_classes(groups: Sequence[Sequence[ExplorerRun]], seeds: Sequence[int],
                   classes: Sequence[int | str] | None) -> list[list[int]]:
    """The classes to draw per generator group: ``classes`` (ids or names) on each generator they name, the
    defaults on the others; a list that fits no generator is an error naming the bad class."""
    if classes is None:
        return [default_classes(group, seeds) for group in groups]
    chosen, errors = [], []
    for group in groups:
        generator = group[0].loaded.generator
        try:
            chosen.append(list(dict.fromkeys(resolve_classes(list(classes), generator.num_classes,
                                                             class_names(generator)))))
        except (ConfigError, UnknownNameError) as err:
            errors.append(err)
            chosen.append(default_classes(group, seeds))
    if len(errors) == len(groups):
        raise errors[0]
    return chosen


def prepare_out(out: Path) -> None:
    """Use ``out`` for the site: a new or empty folder, or an earlier site (its images and curves are replaced)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={out} is a file; give a folder for the site.")
    if out.is_dir() and any(entry.name != LOGGER_DIR for entry in out.iterdir()):
        if not (out / SCORES_FILE).is_file():
            raise ConfigError(f"out={out} is a folder with other files in it (no {SCORES_FILE}: not an explorer "
                              "site); give a new or empty folder.")
        for folder in (IMAGE_DIR, RUNS_DIR):  # what an earlier build drew for runs this one may not have
            shutil.rmtree(out / folder, ignore_errors=True)


def group_runs(runs: Sequence[ExplorerRun]) -> list[list[ExplorerRun]]:
    """Runs grouped by generator, in the order given."""
    groups: dict[str, list[ExplorerRun]] = {}
    for run in runs:
        groups.setdefault(generator_key(run.loaded.config), []).append(run)
    return list(groups.values())


def copy_curves(run: ExplorerRun, out: Path) -> str | None:
    """The run's score/factor-vs-α plot from its evaluation, copied into the site; None if it has none."""
    source = run.folder / CURVES_FILE
    if not source.is_file():
        return None
    target = f"{RUNS_DIR}/{run.id}/{CURVES_FILE.name}"
    write_bytes(out / target, source.read_bytes())
    return target


def group_entry(index: int, plan: GroupPlan, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What the page needs about a generator group: label, seeds, drawn classes, every class name, and
    whether its images carry measured factors (the shapes world)."""
    run_ids = {run.id for run in plan.runs}
    generator = plan.runs[0].loaded.generator
    names = class_names(generator)
    return {"id": index, "generator": generator_label(plan.runs[0].loaded.config.generator),
            "resolution": int(getattr(generator, "resolution", 0)), "numClasses": int(generator.num_classes),
            "seeds": [str(s) for s in plan.seeds], "runs": [run.id for run in plan.runs],
            "classes": [{"id": c, "name": names[c] if names else str(c)} for c in plan.classes],
            "classNames": names, "worldFactors": any(r["factors"] for r in records if r["run"] in run_ids)}


def build_site(run_dirs: Sequence[str | Path], out: str | Path, seeds: int = 8,
               classes: Sequence[int | str] | None = None, device: str | torch.device = "cpu",
               batch_size: int = 256, logger: Any = None) -> Path:
    """Build the site for ``run_dirs`` into ``out`` and return its index.html.

    ``seeds`` held-out seeds (the evaluation's first ones) are shown for every run; ``classes`` (ids or names)
    picks the classes drawn (see ``chosen_classes``). With a ``logger`` each run's images go to a table.
    """
    if not run_dirs:
        raise ConfigError("give at least one run folder (the folder ganalyze-train printed).")
    for name, value, what in (("seeds", seeds, "the held-out seeds shown per run"),
                              ("batch_size", batch_size, "images drawn at once")):
        if not is_whole(value) or value < 1:
            raise ConfigError(f"{name}={value!r} must be a whole number >= 1 ({what}).")
    seeds, batch_size = int(seeds), int(batch_size)
    out = Path(out)
    prepare_out(out)
    device = torch.device(device)
    runs = [open_run(i + 1, Path(folder), device) for i, folder in enumerate(run_dirs)]
    shown_seeds = held_out_seeds(seeds)
    run_groups = group_runs(runs)
    plans = [GroupPlan(group, shown_seeds, ids)
             for group, ids in zip(run_groups, chosen_classes(run_groups, shown_seeds, classes))]
    records: list[dict[str, Any]] = []
    with tqdm(total=sum(p.num_images() for p in plans), desc="explorer images", unit="image", mininterval=0.5) as bar:
        for plan in plans:
            records += draw_group(plan, out, batch_size, bar)
    groups = [group_entry(i, plan, records) for i, plan in enumerate(plans)]
    described = [{**run.describe(), "metrics": run.metrics, "curves": copy_curves(run, out)} for run in runs]
    write_json(out / SCORES_FILE, {"runs": [run.describe() for run in runs], "records": records})
    page = {"groups": groups, "runs": described,
            "records": [{**r, "seed": str(r["seed"])} for r in records]}  # seeds exceed JS's exact integers
    # data.js is JavaScript, not JSON: NaN in metrics stays NaN. A <script src> loads it where fetch() cannot.
    write_text(out / "data.js", "window.EXPLORER_DATA = " + json.dumps(page) + ";\n")
    for name in ASSETS:
        write_text(out / name, files("ganalyze.explorer").joinpath(f"assets/{name}").read_text(encoding="utf-8"))
    if logger is not None:
        log_tables(logger, runs, groups, records, out)
    return out / "index.html"


def log_tables(logger: Any, runs: Sequence[ExplorerRun], groups: Sequence[dict[str, Any]],
               records: Sequence[dict[str, Any]], out: Path) -> None:
    """One table per run: (seed, class, α, score, image) plus the other assessors' scores and measured factors."""
    names = {run.id: run.assessor_name for run in runs}
    labels = {(g["id"], c["id"]): c["name"] for g in groups for c in g["classes"]}
    group_of = {rid: g["id"] for g in groups for rid in g["runs"]}
    for run in runs:
        inside = run.inside()
        rows = [{"seed": r["seed"], "class": labels[group_of[run.id], r["class"]], "alpha": r["alpha"],
                 "in_trained_range": bool(inside[r["alpha_index"]]), "score": r["scores"][run.id],
                 **{f"score_{names[rid]}": v for rid, v in r["scores"].items() if rid != run.id},
                 **r["factors"], "image": out / r["image"]}
                for r in records if r["run"] == run.id]
        logger.log_records(f"explorer/{run.id}", rows)
