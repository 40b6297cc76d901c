"""ganalyze-project-train and ganalyze-project: train the dataset-projection models, project images with them.

    ganalyze-project-train                          # autoencoder + flow on warm, cool, centered (14 min with threads=2, 26 min on one busy core)
    ganalyze-project weights=runs/projection/train/model source=warm
    ganalyze-project weights=runs/projection/train/model report=true   # every ordered pair measured from pixels
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from ganalyze.atomic import write_json
from ganalyze.build import build_logger, plain
from ganalyze.cli.errors import hydra_command
from ganalyze.errors import ConfigError
from ganalyze.output_set import staged_outputs
from ganalyze.memory_budget import check_bytes, check_fits, image_bytes
from ganalyze.projection.datasets import IMAGE_SUFFIXES, image_files, load_sets, read_image, split_held_out
from ganalyze.projection.model import ProjectionModel
from ganalyze.projection.project import projection_grid, sample_grid, save_grid
from ganalyze.projection.report import check_world_labels, projection_report
from ganalyze.projection.settings import ProjectSettings, ProjectTrainSettings
from ganalyze.projection.train import train_projection
from ganalyze.typed_settings import from_config, output_folder
from ganalyze.world import list_variants, load_variant
from ganalyze.world.classifier import ShapeClassifier

RENDER_COPIES = 3  # a world variant renders a set as floats (plus masks) before it is kept as uint8


def run_training(cfg: DictConfig) -> Path:
    """Train both models into cfg.run_dir (resuming when asked) and write the sample grid; returns run_dir."""
    settings = from_config(ProjectTrainSettings, cfg)
    run = output_folder("run_dir", settings.run_dir)
    check_training_fits(settings)
    if settings.data.source == "world":
        for name in settings.data.sets or []:
            load_variant(name)  # an unknown name fails here, before any rendering
    torch.set_num_threads(settings.threads)
    if (run / "checkpoints").is_dir() and not cfg.resume:
        raise ConfigError(f"run_dir {str(run)!r} already holds checkpoints; pass resume=true to continue that run "
                          "or choose a new run_dir.")
    data_cfg = plain(cfg.data)
    data = load_sets(data_cfg["source"], data_cfg["sets"], data_cfg["per_set"] + data_cfg["held_out"],
                     data_cfg["seed"], data_cfg["resolution"])
    train, held_out = split_held_out(data, data_cfg["held_out"])
    stages = {"data": data_cfg, "autoencoder": plain(cfg.autoencoder), "flow": plain(cfg.flow)}
    logger = build_logger(cfg.logger, run, "projection-train", plain(cfg), job_type="projection-train")
    model = train_projection(train, held_out, stages, run, log=lambda step, metrics: logger.log_metrics(metrics, step))
    cells = sample_grid(model, int(cfg.sample_rows), seed=int(data_cfg["seed"]), temperature=float(cfg.sample_temperature))
    logger.log_images({"samples": save_grid(cells, model.labels, run / "samples.png")})
    logger.finish()
    print(json.dumps(json.loads((run / "train_metrics.json").read_text()), indent=2))
    print(f"model saved in {run / 'model'} (load with ProjectionModel.from_pretrained); sample grid {run / 'samples.png'}")
    return run


def check_training_fits(settings: ProjectTrainSettings) -> None:
    """Refuse data sizes whose images cannot be held in memory (all kept as uint8, each set rendered as floats)."""
    data = settings.data
    per_set = data.per_set + data.held_out
    sets = len(data.sets) if data.sets else 1
    needed = image_bytes(sets * per_set, data.resolution, bytes_per_value=1) + \
        image_bytes(per_set, data.resolution) * RENDER_COPIES
    check_bytes(needed, f"data.per_set={data.per_set} + data.held_out={data.held_out} images x {sets} data sets at "
                f"{data.resolution}x{data.resolution}", "lower data.per_set (e.g. data.per_set=12000).")


def load_inputs(cfg: DictConfig, resolution: int) -> torch.Tensor:
    """The images to project: files / a folder named by cfg.inputs, or world images of variant cfg.source."""
    if cfg.inputs is None:
        if cfg.source not in list_variants():
            raise ConfigError(f"inputs=null draws world images of data set `source`, but {cfg.source!r} is not a "
                              f"world variant ({', '.join(list_variants())}); pass inputs=<image files or folder>.")
        return load_variant(cfg.source).sample(int(cfg.num_inputs), seed=int(cfg.seed), resolution=resolution)[0]
    if not cfg.inputs or any(not str(p).strip() for p in cfg.inputs):
        raise ConfigError(f"inputs={list(cfg.inputs)} holds an empty path; give image files or folders, "
                          "e.g. inputs=[photos/a.png,photos/b.png].")
    paths = [Path(p) for p in cfg.inputs]
    files = [f for p in paths for f in (image_files(p) if p.is_dir() else [p])]
    if not files:
        raise ConfigError(f"inputs={[str(p) for p in paths]}: no image files ({', '.join(IMAGE_SUFFIXES)}) found; "
                          "give image files or a folder holding some.")
    check_fits(len(files), resolution, f"inputs ({len(files)} files)", hint="project fewer images at once.")
    return torch.stack([read_image(f, resolution) for f in files]).float() / 255.0


def run_projection(cfg: DictConfig) -> Path:
    """Write projection.png, samples.png and projection.json (log p(y | x) of inputs and projections) to out_dir."""
    node = plain(cfg)
    if isinstance(node.get("inputs"), str):
        node["inputs"] = [node["inputs"]]
    settings = from_config(ProjectSettings, node)
    out = output_folder("out_dir", settings.out_dir)
    torch.set_num_threads(settings.threads)
    model = ProjectionModel.from_pretrained(settings.weights)
    source = model.flow.label_index(settings.source)
    columns, resolution = 1 + len(model.labels), model.autoencoder.resolution
    if settings.inputs is None:
        check_fits(settings.num_inputs * columns, resolution, f"num_inputs={settings.num_inputs}",
                   hint="project fewer images (e.g. num_inputs=8).")
    check_fits(settings.num_samples * columns, resolution, f"num_samples={settings.num_samples}",
               hint="draw fewer rows (e.g. num_samples=8).")
    if settings.report:
        check_world_labels(model.labels)
        check_fits(settings.report_images * 3 * len(model.labels), resolution, f"report_images={settings.report_images}",
                   hint="measure fewer images (e.g. report_images=500).")
    cfg = OmegaConf.create(node)
    images = load_inputs(cfg, resolution)
    cells = projection_grid(model, images, torch.full((len(images),), source, dtype=torch.long))
    samples = sample_grid(model, int(cfg.num_samples), int(cfg.seed), float(cfg.temperature))
    with torch.no_grad():
        posterior = model.log_posterior(cells.flatten(0, 1)).exp().view(*cells.shape[:2], -1)
    report = {
        "labels": model.labels, "source": str(cfg.source),
        "columns": ["input"] + model.labels,
        "p_dataset_given_image": posterior.tolist(),  # [input][column][data set]
    }
    with staged_outputs(out) as stage:  # the three files are replaced together or not at all
        save_grid(cells, [f"input ({cfg.source})"] + model.labels, stage / "projection.png")
        save_grid(samples, model.labels, stage / "samples.png")
        write_json(stage / "projection.json", report)
    paths = {"projection": out / "projection.png", "samples": out / "samples.png"}
    if settings.report:
        degraded = settings.report_degraded_judge
        projection_report(model, ShapeClassifier.from_pretrained(), settings.report_images, settings.seed, out,
                          ShapeClassifier.from_pretrained(degraded) if degraded else None)
        paths.update({f"strip_{name}": out / f"strip_{name}.png" for name in model.labels})
        print((out / "report.md").read_text())
    logger = build_logger(cfg.logger, out, "projection", plain(cfg), job_type="projection")
    logger.log_images(paths)
    logger.log_table("p_dataset_given_image", ["input", "column"] + model.labels,
                     [[i, col] + probs for i, row in enumerate(report["p_dataset_given_image"])
                      for col, probs in zip(report["columns"], row)])
    logger.finish()
    print(f"wrote {out / 'projection.png'}, {out / 'samples.png'} and {out / 'projection.json'}"
          + (f"; the report in {out / 'report.json'}, {out / 'report.md'} and strip_<source>.png" if settings.report else ""))
    return out


@hydra_command("ganalyze-project-train", "projection/train", "run_dir")
def train_main(cfg: DictConfig) -> None:
    """Console script ganalyze-project-train."""
    run_training(cfg)


@hydra_command("ganalyze-project", "projection/project", "out_dir")
def main(cfg: DictConfig) -> None:
    """Console script ganalyze-project."""
    run_projection(cfg)


if __name__ == "__main__":
    main()
