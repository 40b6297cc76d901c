"""The public Python API, the notebook user's door (ganalyze-train and ganalyze-eval are thin layers over it).

    import ganalyze

    run = ganalyze.train(assessor="shapes_size", logger="none", run_dir="runs/nb", overrides=["train.steps=100"])
    walk = run.walk(seeds=range(4), classes="circle", alphas=[-0.04, 0, 0.04])
    walk.grid().save("walk.png")
    again = ganalyze.load_run("runs/nb")          # the same run, read back from its folder

``train`` composes the very config ``ganalyze-train`` composes for the same settings (Hydra's compose API), so
both give the same θ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from ganalyze.errors import ConfigError
from ganalyze.evaluation import alpha_grid
from ganalyze.jobs import EVAL_DIR, Roles, build_roles, class_ids, eval_for, grid_walk, setup_torch, train_job
from ganalyze.jobs import assessor_name, generator_name, trained_edit, trained_transformer
from ganalyze.generators.base import Generator
from ganalyze.sampling import held_out_seeds
from ganalyze.settings import RunSettings, job_config, saved_config, to_settings
from ganalyze.transformers.base import Transformer
from ganalyze.visuals import definition_title
from ganalyze.walk import Walk, walk

if TYPE_CHECKING:  # the inversion package loads its encoder lazily, on the first edit
    from ganalyze.inversion.edit import EditResult

__all__ = ["Run", "Walk", "load_run", "train"]


@dataclass
class Run:
    """A trained direction and everything it was made with: ``folder``, typed ``config`` (RunSettings), the frozen
    ``generator`` and ``assessor``, and the trained ``transformer``; ``metrics`` are its evaluation's."""

    folder: Path
    config: RunSettings
    generator: Generator
    assessor: torch.nn.Module
    transformer: Transformer

    @property
    def metrics(self) -> dict[str, Any]:
        """The evaluation's metrics per direction and group (eval/metrics.json's ``metrics``), e.g.
        ``run.metrics["trained"]["score"]["r2"]``; empty when the run was not evaluated."""
        path = self.folder / EVAL_DIR / "metrics.json"
        return json.loads(path.read_text())["metrics"] if path.is_file() else {}

    def walk(self, seeds: Iterable[int] | None = None, z: torch.Tensor | None = None, classes: Any = None,
             alphas: Sequence[float] | None = None) -> Walk:
        """Push latents along the direction: ``seeds`` (latents drawn as the evaluation draws them) or ``z`` (N, dim_z),
        with ``classes`` (one id or name for every row, or one per row; default: the classes it was trained on),
        over ``alphas`` (default: the evaluation's grid). Returns images (N, A, C, H, W), scores (N, A) and, on the
        shapes world, the true factors measured from pixels.

        >>> run.walk(seeds=range(4), classes="circle", alphas=[-0.04, 0, 0.04]).images.shape
        torch.Size([4, 3, 3, 32, 32])
        """
        if (seeds is None) == (z is None):
            raise ConfigError("Run.walk needs either seeds=... (e.g. seeds=range(4)) or z=<latents (N, dim_z)>, not both.")
        alphas = self.default_alphas() if alphas is None else np.asarray(list(alphas), dtype=float)
        wanted = class_ids(classes, self.generator) if classes is not None else eval_for(self.config, self.generator).classes
        if seeds is not None:
            seeds = [int(s) for s in seeds]
            return grid_walk(self.config, self._roles(), seeds, alphas, wanted)
        z = torch.as_tensor(z, dtype=torch.float32)
        if z.dim() != 2 or z.shape[1] != self.generator.dim_z:
            raise ConfigError(f"z must have shape (N, {self.generator.dim_z}) for this generator, got {tuple(z.shape)}.")
        if wanted is None or len(wanted) not in (1, len(z)):
            raise ConfigError(f"with z, give classes= one class for every row or one per row ({len(z)}), got {classes!r}.")
        y = torch.as_tensor(wanted * len(z) if len(wanted) == 1 else wanted, dtype=torch.long)
        assessor = assessor_name(self.config)
        title = definition_title(assessor, generator_name(self.config), trained=trained_edit(self.config),
                                 rows="the given latents z")
        return walk(self.generator, self.transformer, self.assessor, z, y, alphas, [f"z{i}" for i in range(len(z))],
                    title, self.config.eval.slider, trained_range=tuple(self.config.train.alpha_range),
                    score_label=f"{assessor} score of the image")

    def visual_definition(self, classes: Any = None, seeds: Iterable[int] | None = None) -> Image.Image:
        """The visual definition as a picture: held-out seeds (default: the first eval.grid_seeds) of ``classes``
        (default: the trained classes) from less to more along the evaluation's α grid."""
        seeds = held_out_seeds(self.config.eval.grid_seeds) if seeds is None else seeds
        return self.walk(seeds=seeds, classes=classes).grid()

    def edit(self, images: Any, alphas: Sequence[float] | None = None, inverter: Any = None,
             classes: Any = None) -> "EditResult":
        """Edit real images: invert each into the generator (G⁻¹: ``inverter``, default the shipped encoder plus
        Adam on z, class from the shape classifier), then walk this run's direction to every α (default: five over
        the trained range). ``images``: a tensor (N, 3, R, R) in [0, 1], image files or folders. Returns the
        reconstructions, edited images, scores and the reconstruction report (``ganalyze.inversion.results``
        writes them as strips, JSON and CSV).

        >>> result = run.edit("my_shapes/", alphas=[-0.02, 0.02]); result.report[0]["psnr"]
        """
        from ganalyze.inversion.edit import edit_images

        alphas = np.linspace(*self.config.train.alpha_range, 5) if alphas is None else alphas
        wanted = class_ids(classes, self.generator) if classes is not None else None
        return edit_images(self.generator, self.transformer, self.assessor, images, list(alphas), inverter=inverter,
                           classes=wanted)

    def condition_on(self, others: Sequence["Run"], length: str = "projected") -> "Run":
        """This run with its direction made orthogonal to the others' (InterFaceGAN's conditional direction
        n' = n - C^T x, (C C^T) x = C n): walks and visual definitions then move this property while the others'
        directions are held. ``length``: "projected" keeps the projection's norm, "primary_norm" this run's.
        ``folder`` and ``metrics`` stay this run's; ``transformer=conditional`` trains and evaluates it as a run.

        >>> brighter = load_run("runs/brightness").condition_on([load_run("runs/size")])
        """
        from ganalyze.transformers.conditional import condition_on

        transformer = condition_on(self.transformer, [other.transformer for other in others], length)
        return replace(self, transformer=transformer.to(next(self.transformer.parameters()).device))

    def default_alphas(self) -> np.ndarray:
        """The evaluation's α grid: eval.alpha_scale × the trained range, eval.num_alphas points, with a, b and 0."""
        return alpha_grid(self.config.train.alpha_range, self.config.eval.alpha_scale, self.config.eval.num_alphas)

    def _roles(self) -> Roles:
        """The run's networks as the jobs take them."""
        return Roles(self.generator, self.assessor, None, self.transformer)


def hydra_value(value: Any) -> str:
    """A Python value written as a Hydra command-line value (true, [a,b], null)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    if isinstance(value, (str, Path)) and re.search(r"[^\w./:~+-]", text):  # spaces, commas, '=': quote it
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def train(overrides: Sequence[str] = (), **choices: Any) -> Run:
    """Train (and evaluate) a direction as ``ganalyze-train`` does; return the Run.

    ``choices`` are top-level settings and role choices (``assessor="shapes_size"``, ``logger="none"``,
    ``run_dir="runs/x"``, ``seed=1``); ``overrides`` any ``key=value`` of the command line (``"train.steps=100"``).
    Bad settings raise ganalyze.errors.ConfigError before any work.

    >>> run = ganalyze.train(logger="none", overrides=["train.steps=100"])
    """
    if isinstance(overrides, str):
        raise ConfigError(f"overrides must be a list of key=value strings, e.g. overrides=[{overrides!r}].")
    args = [f"{key}={hydra_value(value)}" for key, value in choices.items()] + list(overrides)
    settings = to_settings(job_config(args))
    folder, roles = train_job(settings)
    return Run(folder, settings, roles.generator, roles.assessor, roles.transformer)


def load_run(folder: str | Path, device: str | None = None) -> Run:
    """Read a run back from its folder (its config.yaml and trained transformer, or its last checkpoint), on
    ``device`` (default: the run's own)."""
    cfg = saved_config(folder)
    if device is not None:
        cfg.device = device
    settings = to_settings(cfg)
    device = setup_torch(settings)
    roles = build_roles(settings, device)
    transformer = trained_transformer(Path(folder), roles).to(device)
    return Run(Path(folder), settings, roles.generator, roles.assessor, transformer)
