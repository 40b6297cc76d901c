"""The two jobs behind ganalyze-train, ganalyze-eval and ganalyze.train: train a direction in a run folder, and
evaluate one into a folder (metrics, rows, plots, visual definitions, logs). Both take typed RunSettings.

A run folder is created only once every setting, name and file has been checked; while a job writes into it, it
holds the folder's lock (ganalyze/runlock.py) and its log goes to train.log (ganalyze/runlog.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from ganalyze.atomic import write_text, write_with
from ganalyze.build import build_assessor, build_generator, build_logger, build_objective, build_transformer, relevant_config
from ganalyze.checkpoint import load_checkpoint
from ganalyze.distributed import DataParallel, from_environment, shutdown
from ganalyze.errors import ConfigError
from ganalyze.evaluation import EvalSettings, Evaluation, Sweep, WorldTools, evaluate, save_evaluation, world_tools
from ganalyze.generators.base import Generator
from ganalyze.generators.classes import resolve_classes
from ganalyze.logger import NullLogger
from ganalyze.memory_budget import check_bytes, check_fits, module_bytes
from ganalyze.runlock import RunLock
from ganalyze.runlog import RunLog
from ganalyze.sampling import HELD_OUT_OFFSET, latents_for_seeds
from ganalyze.settings import RunSettings
from ganalyze.steerability import run_steerability
from ganalyze.training import CHECKPOINT_FILE, resume_state, train
from ganalyze.transformers import Transformer, load_transformer
from ganalyze.visuals import definition_title, plot_changes, plot_loss, sample_records
from ganalyze.walk import Walk, class_label, walk, walk_of_sweep

log = logging.getLogger("ganalyze.run")

TRANSFORMER_DIR = "transformer"
EVAL_DIR = "eval"
CONFIG_FILE = "config.yaml"
HEADLINE = ("score_spearman", "score_r2", "score_r2_change", "size_spearman", "size_abs_spearman_mean",
            "size_monotonic_fraction", "class_preserved_at_low", "class_preserved_at_high")


@dataclass
class Roles:
    """The built roles of a run: generator and assessor frozen, the transformer trained (or being trained)."""

    generator: Generator
    assessor: torch.nn.Module
    objective: Any
    transformer: Transformer


def setup_torch(settings: Any) -> torch.device:
    """Fix the CPU thread count and check the device of ``settings`` (RunSettings or a config); return it."""
    threads, name = ((settings["threads"], settings["device"]) if isinstance(settings, Mapping)
                     else (settings.threads, settings.device))
    if int(threads) != threads or threads < 1:
        raise ConfigError(f"threads={threads} must be a whole number >= 1 (1 is fastest on a busy machine).")
    torch.set_num_threads(int(threads))
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ConfigError(f"device={name!r} is not a torch device; use cpu, cuda or cuda:N.") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={name} asked for CUDA, but no CUDA device is available; use device=cpu.")
    return device


def class_ids(classes: Any, generator: Generator) -> list[int] | None:
    """Class ids from ids and/or names (a list or one value; names need a generator with class_names)."""
    return resolve_classes(classes, generator.num_classes, getattr(generator, "class_names", None))


def eval_for(settings: RunSettings, generator: Generator) -> EvalSettings:
    """The run's evaluation settings with classes resolved: eval.classes, else the classes it was trained on."""
    classes = settings.eval.classes if settings.eval.classes is not None else settings.train.classes
    return replace(settings.eval, classes=class_ids(classes, generator))


def build_roles(settings: RunSettings, device: torch.device) -> Roles:
    """Generator, assessor, objective and a fresh transformer (θ's start depends on the run's seed only)."""
    generator = build_generator(settings.generator).to(device)
    assessor = build_assessor(settings.assessor).to(device)
    objective = build_objective(settings.objective, assessor).to(device)
    torch.manual_seed(settings.seed)
    transformer = build_transformer(settings.transformer, generator, int(getattr(objective, "alpha_dim", 1)))
    return Roles(generator, assessor, objective, transformer.to(device))


def check_sizes(settings: RunSettings, roles: Roles, device: torch.device, training: bool) -> None:
    """Refuse, before any work, a training batch or an evaluation that cannot fit in ``device``'s free memory
    (estimates are lower bounds, so nothing that could run is refused)."""
    generator, models = roles.generator, module_bytes(roles.generator) + module_bytes(roles.assessor)
    if training:
        n = settings.train.batch_size
        check_fits(n, generator.resolution, f"train.batch_size={n}", factor=4, model_bytes=models, device=device,
                   hint="lower train.batch_size (the default is 32).")
    if settings.eval.enabled or not training:
        n, ev = settings.eval.num_seeds, settings.eval
        per_seed = generator.dim_z * 4 + ev.num_alphas * (1 + ev.random_directions) * 64  # latents, scores, factors
        check_bytes(n * per_seed, f"eval.num_seeds={n}", "lower eval.num_seeds (the default is 200).", device)
        check_fits(min(n, ev.batch_size), generator.resolution, f"eval.batch_size={ev.batch_size}", factor=4,
                   model_bytes=models, device=device, hint="lower eval.batch_size (the default is 250).")


def trained_transformer(folder: Path, roles: Roles) -> Transformer:
    """The run's final transformer, or, for a run still training or killed, the one in its last checkpoint."""
    if (folder / TRANSFORMER_DIR).is_dir() or not (folder / CHECKPOINT_FILE).is_file():
        return load_transformer(folder / TRANSFORMER_DIR)
    checkpoint = load_checkpoint(folder / CHECKPOINT_FILE)
    roles.transformer.load_state_dict(checkpoint["transformer"])
    log.info("%s has no final transformer yet: evaluating its checkpoint at step %s", folder, checkpoint["step"])
    return roles.transformer.eval().requires_grad_(False)


def check_new_folder(folder: Path, resume: bool) -> None:
    """Refuse a run_dir that is a file, a resume without a run, or a new run over an existing one."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"run_dir={folder} is a file, not a folder; choose a folder for the run.")
    has_run = (folder / CONFIG_FILE).is_file() or (folder / CHECKPOINT_FILE).is_file()
    if resume and not has_run:
        state = "does not exist" if not folder.exists() else "holds no run (no config.yaml)"
        raise ConfigError(f"resume=true but run_dir={folder} {state}; give the folder of the run to continue "
                          "(the one ganalyze-train printed), or drop resume=true to start a new run.")
    if not resume and (folder / CONFIG_FILE).is_file() and not (folder / CHECKPOINT_FILE).is_file():
        raise ConfigError(f"run folder {folder} already holds a run (its config.yaml); pass resume=true to continue "
                          "it, or choose another run_dir to start a new one.")


def train_job(settings: RunSettings, parallel: DataParallel | None = None) -> tuple[Path, Roles]:
    """The whole training job: check, build the roles, train (or resume), save θ, evaluate into run_dir/eval."""
    device = setup_torch(settings)
    parallel = parallel or from_environment(device)  # one process alone, or this process's rank under torchrun
    folder = Path(parallel.agree(str(settings.run_dir)))
    check_new_folder(folder, settings.resume)
    roles = build_roles(settings, device)
    check_sizes(settings, roles, device, training=True)
    train_settings = replace(settings.train, classes=class_ids(settings.train.classes, roles.generator))
    eval_for(settings, roles.generator)  # class names of the evaluation are checked before training too
    class_ids(settings.eval.grid_classes, roles.generator)
    config = relevant_config(asdict(settings))
    checkpoint = resume_state(folder, config, settings.resume)
    if checkpoint and settings.train.steps < int(checkpoint["step"]):
        raise ConfigError(f"train.steps={settings.train.steps} is below the {checkpoint['step']} steps the run in "
                          f"{folder} has taken; resume with train.steps >= {checkpoint['step']}.")
    if not parallel.is_main:
        try:
            train(roles.generator, roles.transformer, roles.objective, train_settings, folder, config, NullLogger(),
                  checkpoint, device, parallel)
        finally:
            shutdown()
        return folder, roles
    folder.mkdir(parents=True, exist_ok=True)
    with RunLock(folder, "ganalyze-train"), RunLog(folder):
        log.info("Run folder: %s%s", folder, f" (resuming at step {checkpoint['step']})" if checkpoint else "")
        write_text(folder / CONFIG_FILE, OmegaConf.to_yaml(OmegaConf.structured(settings)))
        logger = build_logger(settings.logger, folder, name=f"{settings.run_name}/{folder.name}", config=asdict(settings))
        try:
            state = train(roles.generator, roles.transformer, roles.objective, train_settings, folder, config, logger,
                          checkpoint, device, parallel)
            roles.transformer.save_pretrained(folder / TRANSFORMER_DIR)
            if state.losses:
                what = trained_edit(settings) or assessor_name(settings)
                title = f"Training loss: {what} direction in {generator_name(settings)}"
                logger.log_images({"train/loss_curve": plot_loss(state.losses, folder / "train_loss.png", title=title)})
            if settings.eval.enabled:
                evaluation_job(settings, roles, folder, folder / EVAL_DIR, logger)
        finally:
            logger.finish()
            shutdown()
    return folder, roles


def generator_name(settings: RunSettings) -> str:
    """The generator by its config's name, else by the class its _target_ names (ShapesGenerator)."""
    parts = str(settings.generator.get("_target_", "generator")).split(".")
    classes = [p for p in parts if p[:1].isupper()]
    return str(settings.generator.get("name") or (classes[-1] if classes else parts[-1]))


def seed_label(seed: int) -> str:
    """A row label for a latent seed: held-out seeds by their number among them (#0, #1, ...)."""
    return f"#{seed - HELD_OUT_OFFSET}" if seed >= HELD_OUT_OFFSET else f"seed {seed}"


def grid_walk(settings: RunSettings, roles: Roles, seeds: list[int], alphas: Any, classes: list[int] | None,
              what: str = "", tools: WorldTools | None = None, swept: Sweep | None = None) -> Walk:
    """``seeds`` of ``classes`` walked over ``alphas``, titled with what was trained and what is shown; measured
    with ``tools`` (default: the world's when the generator is the shapes generator). ``swept``, a sweep of the
    trained direction over these ``alphas`` whose first seeds are ``seeds`` of ``classes`` and whose images it
    kept, gives the walk without generating anything again."""
    z, y = latents_for_seeds(roles.generator, seeds, classes)
    assessor = assessor_name(settings)
    title = definition_title(assessor, generator_name(settings), what or None, trained_edit(settings))
    labels, trained_range = [seed_label(s) for s in seeds], tuple(settings.train.alpha_range)
    score_label = f"{assessor} score of the image"
    if swept is not None:
        return walk_of_sweep(swept, roles.generator, y, alphas, labels, title, trained_range, score_label)
    return walk(roles.generator, roles.transformer, roles.assessor, z, y, alphas, labels, title, settings.eval.slider,
                tools, trained_range, score_label)


def assessor_name(settings: RunSettings) -> str:
    """The run's assessor by its config's name, with its target where it has one (dataset_likeness[cool]), so a
    title says which of an assessor's targets a direction was trained toward."""
    name, target = str(settings.assessor.get("name", "assessor")), settings.assessor.get("target")
    return name if target is None else f"{name}[{target}]"


def trained_edit(settings: RunSettings) -> str | None:
    """The edit an edit objective trains (zoom, shift_x, ...), or None for a score objective."""
    edit = settings.objective.get("edit")
    return None if edit is None else str(edit)


def evaluation_job(settings: RunSettings, roles: Roles, folder: Path, out: Path, logger: Any) -> Evaluation:
    """Evaluate on held-out seeds, write metrics/rows/plots/visual definitions to ``out``, and log them."""
    eval_settings = eval_for(settings, roles.generator)
    grid_classes = class_ids(eval_settings.grid_classes, roles.generator) or []  # checked before anything is written
    tools = world_tools(roles.generator, eval_settings.world)  # loaded once, for the sweeps and every grid
    evaluation = evaluate(roles.generator, roles.transformer, roles.assessor, settings.train.alpha_range, eval_settings,
                          seed=settings.seed, tools=tools, fast=settings.train.fast)
    save_evaluation(evaluation, out)
    pictures: dict[str, Any] = {"eval/changes_vs_alpha": plot_changes(
        evaluation, out / "changes_vs_alpha.png", assessor=assessor_name(settings), generator=generator_name(settings),
        trained=trained_edit(settings))}
    seeds = evaluation.seeds[: eval_settings.grid_seeds]  # the sweep's first seeds, whose images it kept (if fast)
    trained = evaluation.sweeps["trained"]
    grids = {"": eval_settings.classes,
             **{f"_class{c}": [c] for c in grid_classes}}
    for suffix, classes in grids.items():
        what = class_label(roles.generator, classes[0]) if suffix else ""
        swept = trained if not suffix and trained.images is not None else None
        result = grid_walk(settings, roles, seeds, evaluation.alphas, classes, what, tools, swept)
        path = write_with(out / f"visual_definition{suffix}.png", lambda f, r=result: r.grid().save(f, format="PNG"))
        pictures[f"eval/visual_definition{suffix}"] = path
        if not suffix:
            labels = [class_label(roles.generator, int(c)) for c in result.classes]
            logger.log_records("eval/samples", sample_records(result, seeds, labels))
    logger.log_images(pictures)
    logger.log_metrics({f"eval/{k}": v for k, v in evaluation.summary().items()})
    log_summary(evaluation, out)
    edit = trained_edit(settings)
    if edit is not None:  # an edit objective: also measure the transformation achieved (steerability)
        run_steerability(str(edit), settings.train.alpha_range, eval_settings, eval_settings.grid_seeds,
                         roles.generator, roles.transformer, folder, logger)
    return evaluation


def log_summary(evaluation: Evaluation, out: Path) -> None:
    """The headline metrics of both directions, one line each."""
    summary = evaluation.summary()
    for direction in ("trained", "random"):
        parts = [f"{key}={summary[f'{direction}/{key}']:.3f}" for key in HEADLINE if f"{direction}/{key}" in summary]
        log.info("eval %7s: %s", direction, "  ".join(parts))
    log.info("evaluation written to %s", out)
