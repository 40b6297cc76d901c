"""What ganalyze-train and ganalyze-eval share: settings from the config, and the evaluation job
(metrics, CSV/JSON, plots, visual definitions, logging) written to <run_dir>/eval."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch

from ganalyze.build import plain
from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.evaluation import EvalSettings, Evaluation, evaluate, save_evaluation
from ganalyze.generators.base import Generator
from ganalyze.generators.classes import resolve_classes
from ganalyze.steerability import run_steerability
from ganalyze.transformers.base import Transformer
from ganalyze.visuals import image_grid, plot_changes, table_rows, visual_definition

EVAL_DIR = "eval"
ROLE_GROUPS = ("generator", "assessor", "transformer", "objective", "logger")
HEADLINE = ("score_spearman", "score_r2", "score_r2_change", "size_spearman", "size_abs_spearman_mean",
            "size_monotonic_fraction", "class_preserved_at_low", "class_preserved_at_high")


def group_options(group: str) -> list[str]:
    """The options of a config group: the package's YAML files plus configs stored by plugins."""
    from hydra.core.config_store import ConfigStore

    folder = files("ganalyze.conf").joinpath(group)
    packaged = [p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")] if folder.is_dir() else []
    try:
        stored = [name.removesuffix(".yaml") for name in ConfigStore.instance().list(group)]
    except OSError:  # nothing stored for this group
        stored = []
    return sorted(set(packaged) | set(stored))


def check_group_choices(args: list[str]) -> None:
    """Fail with one paragraph on ``group=name`` command-line choices that name no config of the group.

    A comma-separated value is a multirun sweep (``-m assessor=a,b``): each of its names is checked.
    Skipped when the command line extends Hydra's search path (options may then live anywhere).
    """
    if any(a.lstrip("+").startswith("hydra.searchpath") for a in args):
        return
    for arg in args:
        key, sep, value = arg.partition("=")
        group = key.lstrip("+~")
        unknown = [name for name in value.split(",") if name not in group_options(group)] if group in ROLE_GROUPS else []
        if sep and unknown:
            hint = " or install a package that provides it (ganalyze.assessors entry point)" if group == "assessor" else ""
            raise UnknownNameError(
                f"unknown {group} {unknown[0]!r}; known {group}s: {', '.join(group_options(group))}. "
                f"A new one is a YAML file in conf/{group}/ with a _target_{hint}."
            )


def setup_torch(cfg: Mapping[str, Any]) -> torch.device:
    """Fix the CPU thread count and check the device; return it."""
    threads = cfg["threads"]
    if int(threads) != threads or threads < 1:
        raise ConfigError(f"threads={threads} must be a whole number >= 1 (1 is fastest on a busy machine).")
    torch.set_num_threads(int(threads))
    try:
        device = torch.device(cfg["device"])
    except RuntimeError as err:
        raise ConfigError(f"device={cfg['device']!r} is not a torch device; use cpu, cuda or cuda:N.") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={cfg['device']} asked for CUDA, but no CUDA device is available; use device=cpu.")
    return device


def class_ids(classes: Any, generator: Generator) -> list[int] | None:
    """Class ids from a config list of ids and/or names (names need a generator with class_names)."""
    return resolve_classes(plain(classes), generator.num_classes, getattr(generator, "class_names", None))


def class_label(generator: Generator, class_id: int) -> str:
    """A class id with its name when the generator has names."""
    names = getattr(generator, "class_names", None)
    return f"{class_id} {names[class_id]}" if names else str(class_id)


def eval_settings(node: Mapping[str, Any], generator: Generator | None = None) -> EvalSettings:
    """EvalSettings from the ``eval`` config node (validated; classes resolved once the generator is known)."""
    classes = class_ids(node["classes"], generator) if generator is not None else None
    return EvalSettings(num_seeds=node["num_seeds"], alpha_scale=node["alpha_scale"], num_alphas=node["num_alphas"],
                        batch_size=node["batch_size"], classes=classes, world=node["world"],
                        random_directions=node["random_directions"])


def run_evaluation(cfg: Mapping[str, Any], generator: Generator, transformer: Transformer, assessor: torch.nn.Module,
                   run_dir: Path, logger: Any) -> Evaluation:
    """Evaluate on held-out seeds, write metrics/rows/plots/visual definitions to run_dir/eval, and log them."""
    settings = eval_settings(cfg["eval"], generator)
    alpha_range = tuple(float(v) for v in cfg["train"]["alpha_range"])
    out = run_dir / EVAL_DIR
    evaluation = evaluate(generator, transformer, assessor, alpha_range, settings, seed=cfg["seed"])
    save_evaluation(evaluation, out)
    pictures = {"eval/changes_vs_alpha": plot_changes(evaluation, out / "changes_vs_alpha.png")}
    seeds = evaluation.seeds[: cfg["eval"]["grid_seeds"]]
    grids = {"": settings.classes, **{f"_class{c}": [c] for c in class_ids(cfg["eval"]["grid_classes"], generator) or []}}
    for suffix, classes in grids.items():
        images, scores, ys = visual_definition(generator, transformer, assessor, seeds, evaluation.alphas, classes)
        labels = [class_label(generator, int(c)) for c in ys]
        title = f"visual definition{f' of class {labels[0]}' if suffix else ''}: rows = held-out seeds, score on each image"
        path = out / f"visual_definition{suffix}.png"
        image_grid(images, scores, evaluation.alphas, [f"#{i} {lab}" for i, lab in enumerate(labels)], title).save(path)
        pictures[f"eval/visual_definition{suffix}"] = path
        if not suffix:
            logger.log_table("eval/samples", ["seed", "class", "alpha", "score", "image"],
                             table_rows(images, scores, evaluation.alphas, seeds, labels))
    logger.log_images(pictures)
    logger.log_metrics({f"eval/{k}": v for k, v in evaluation.summary().items()})
    print_summary(evaluation, out)
    edit = cfg["objective"].get("edit")
    if edit is not None:  # an edit objective: also measure the transformation achieved (steerability)
        run_steerability(str(edit), alpha_range, settings, cfg["eval"]["grid_seeds"], generator, transformer,
                         run_dir, logger)
    return evaluation


def print_summary(evaluation: Evaluation, out: Path) -> None:
    """The headline metrics of both directions, one line each."""
    summary = evaluation.summary()
    for direction in ("trained", "random"):
        parts = [f"{key}={summary[f'{direction}/{key}']:.3f}" for key in HEADLINE if f"{direction}/{key}" in summary]
        print(f"eval {direction:>7}: {'  '.join(parts)}")
    print(f"evaluation written to {out}")
