"""The GANalyze training loop: learn T's parameters so that objective(G(T(z, α), y)) meets its target.

One step: x0 = G(z, y) and target(x0, α) under no_grad; x1 = G(T(z, α, y), y); Adam on T's parameters
only (G and the objective's networks frozen, in eval mode). Batches depend only on (seed, step), and
atomic checkpoints carry T, Adam and the losses, so a killed run resumes to the very same θ.

The fast path (``TrainSettings.fast``, see ganalyze.fast_path) is on by default: each latent's target is
computed once for several α, the frozen networks are prepared once, and bf16 is used where it is native.
Under torchrun, every process trains on its share of the global batch (ganalyze.distributed).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ganalyze.checkpoint import check_resumable, load_checkpoint, save_checkpoint, stamp_config
from ganalyze.atomic import write_text
from ganalyze.checks import is_finite, number, whole
from ganalyze.distributed import DataParallel
from ganalyze.errors import ConfigError, GanalyzeError
from ganalyze.fast_path import PLAIN, FastPath, alphas_for_batch, autocast, compact_activations, compute_dtype
from ganalyze.fast_path import networks_of, prepare_frozen, repeated_batch
from ganalyze.generators.base import Generator
from ganalyze.logger import NullLogger
from ganalyze.sampling import training_batch
from ganalyze.transformers.base import Transformer

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.pt"
LOSS_FILE = "train_loss.csv"
RUNNING_WINDOW = 20  # steps averaged into the progress bar's running loss


ALPHA_LIMIT = 1e4  # |α| beyond this is no unit any objective uses (scores, log2 zoom, pixels, degrees)
LR_LIMIT = 10.0  # Adam steps of θ beyond this leave the latent distribution in one step


@dataclass
class TrainSettings:
    """What a training run does (the ``train`` section of ganalyze-train's config and its schema); checked on
    creation so bad values fail before any work.

    The defaults were measured on the shapes world with the shapes_size assessor: 300 steps converge (600 gave
    the same metrics). ``alpha_range`` is in the assessor's score units (area fraction for shapes_size);
    ``classes`` is null (all classes) or a list of class ids or names; ``l2_penalty`` × ‖θ‖² keeps θ off latent
    dimensions the generator barely uses; ``seed`` is the run's seed (conf/config.yaml ties it to ``seed``).
    """

    steps: int = 300
    batch_size: int = 32
    lr: float = 0.05
    alpha_range: tuple[float, float] = (-0.02, 0.02)
    classes: Any = None
    checkpoint_every: int = 100
    seed: int = 0
    l2_penalty: float = 0.0
    fast: FastPath = field(default_factory=FastPath)

    def __post_init__(self) -> None:
        if isinstance(self.alpha_range, (str, bytes)) or len(self.alpha_range) != 2:
            raise ConfigError(f"train.alpha_range must be two numbers [a, b] with a < b, got {self.alpha_range!r}.")
        if not all(is_finite(v) and abs(v) <= ALPHA_LIMIT for v in self.alpha_range):
            raise ConfigError(f"train.alpha_range={list(self.alpha_range)} must be two finite numbers within "
                              f"±{ALPHA_LIMIT:g} in the objective's units (e.g. train.alpha_range=[-0.02, 0.02]).")
        low, high = (float(v) for v in self.alpha_range)
        if not low < high:
            example = f"[{high}, {low}]" if low > high else "[-0.1, 0.1]"
            raise ConfigError(
                f"train.alpha_range=[{low}, {high}] is empty: α is drawn from U[a, b], so a must be below b "
                f"(e.g. train.alpha_range={example})."
            )
        self.alpha_range = (low, high)
        self.batch_size = whole("train.batch_size", self.batch_size, example=32)
        self.checkpoint_every = whole("train.checkpoint_every", self.checkpoint_every, example=100)
        self.steps = whole("train.steps", self.steps, minimum=0, example=300)
        self.seed = whole("seed", self.seed, minimum=0, example=0)
        self.lr = number("train.lr", self.lr, 0.0, LR_LIMIT, 0.01, low_open=True)
        self.l2_penalty = number("train.l2_penalty", self.l2_penalty, 0.0, 1e6, 0.0)
        if isinstance(self.fast, dict):
            self.fast = FastPath.from_config(self.fast)

    @property
    def latents_per_step(self) -> int:
        """Distinct latents in a batch: batch_size / α per latent (see fast_path.alphas_for_batch)."""
        return self.batch_size // alphas_for_batch(self.fast.alphas_per_latent, self.batch_size)


@dataclass
class TrainState:
    """Where a run stands: the next step to take and the loss of every step taken so far."""

    step: int = 0
    losses: list[float] = field(default_factory=list)


def freeze(*modules: nn.Module) -> None:
    """Eval mode and no gradient for every parameter of ``modules`` (gradients still flow through them)."""
    for module in modules:
        module.eval().requires_grad_(False)


def train_step(generator: Generator, transformer: Transformer, objective: Any, optimizer: torch.optim.Optimizer,
               z: torch.Tensor, y: torch.Tensor, alpha: torch.Tensor, l2_penalty: float = 0.0,
               fast: FastPath = PLAIN) -> torch.Tensor:
    """One optimisation step on n latents and k·n step sizes; returns the (detached) objective loss.

    Sample i pairs latent i mod n with α_i, so G(z) and the objective's networks run once per latent in
    the no-grad target pass. ``fast`` sets the precision and compact activations (its other settings
    act outside the step: how many latents are drawn, how the frozen networks were prepared).
    ``l2_penalty`` × ‖T's parameters‖² joins the loss: each coordinate of θ then settles in proportion to
    its gradient, so θ spends no norm on latent dimensions the generator barely uses (Adam's normalised
    steps would otherwise grow them as fast as the useful ones).
    """
    k = len(alpha) // len(z)
    if k * len(z) != len(alpha):
        raise ValueError(f"{len(alpha)} step sizes cannot be shared evenly by {len(z)} latents")
    dtype = compute_dtype(fast.precision, z.device)
    with torch.no_grad(), autocast(dtype, z.device):
        with repeated_batch(objective, generator(z, y).float(), k) as x0:
            target = objective.target(x0, alpha)
    z, y = z.repeat(k, 1), y.repeat(k)
    with autocast(dtype, z.device), compact_activations(fast.compact_activations):
        loss = objective.loss(generator(transformer(z, alpha, y), y).float(), target)
    total = loss + l2_penalty * sum(p.pow(2).sum() for p in transformer.parameters()) if l2_penalty else loss
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    return loss.detach()


def resume_state(run_dir: str | Path, config: dict[str, Any], resume: bool) -> dict[str, Any] | None:
    """The checkpoint to continue from, checked against ``config``; None to start afresh.

    A run folder that already holds a checkpoint is only continued with resume=true, and only under
    the config it was made with (ConfigError otherwise).
    """
    path = Path(run_dir) / CHECKPOINT_FILE
    if not path.exists():
        if resume:
            log.warning("resume=true but %s holds no checkpoint yet: starting at step 0.", run_dir)
        return None
    checkpoint = load_checkpoint(path)
    if not resume:
        raise ConfigError(
            f"run folder {run_dir} already holds a checkpoint (step {checkpoint.get('step', '?')}); pass resume=true "
            "to continue that run, or choose another run_dir to start a new one."
        )
    check_resumable(checkpoint, config, path)
    return checkpoint


def train(generator: Generator, transformer: Transformer, objective: Any, settings: TrainSettings,
          run_dir: str | Path, config: dict[str, Any], logger: Any = None,
          checkpoint: dict[str, Any] | None = None, device: str | torch.device = "cpu",
          parallel: DataParallel = DataParallel()) -> TrainState:
    """Train ``transformer`` for ``settings.steps`` steps (continuing ``checkpoint`` if given).

    ``config`` is what the run's θ depends on; it is stamped into every checkpoint (see resume_state).
    Writes checkpoint.pt every ``checkpoint_every`` steps and at the end, and train_loss.csv (the main
    process only, with the loss of the global batch). G and the objective are frozen and prepared for the
    fast path in place (their outputs do not change).
    """
    logger = logger or NullLogger()
    run_dir = Path(run_dir)
    freeze(generator, objective)
    for network in (generator, *networks_of(objective)):
        prepare_frozen(network, settings.fast)
    transformer.train().requires_grad_(True)
    model = parallel.wrap(transformer)
    optimizer = torch.optim.Adam(transformer.parameters(), lr=settings.lr)
    state = TrainState()
    if checkpoint is not None:
        transformer.load_state_dict(checkpoint["transformer"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        state = TrainState(int(checkpoint["step"]), [float(v) for v in checkpoint["losses"]])

    def save() -> None:
        save_checkpoint(stamp_config({"step": state.step, "transformer": transformer.state_dict(),
                                      "optimizer": optimizer.state_dict(), "losses": state.losses}, config),
                        run_dir / CHECKPOINT_FILE)

    alpha_dim = int(getattr(objective, "alpha_dim", 1))
    bar = tqdm(total=settings.steps, initial=state.step, desc="train", unit="step", dynamic_ncols=True,
               mininterval=0.5, disable=not parallel.is_main)
    while state.step < settings.steps:
        z, y, alpha = training_batch(generator, settings.seed, state.step, settings.batch_size, alpha_dim,
                                     settings.alpha_range, settings.classes)
        n = settings.latents_per_step  # the batch's first n latents, each with batch_size / n step sizes
        share = parallel.shard_batch(z[:n].to(device), y[:n].to(device), alpha.to(device))
        step_loss = train_step(generator, model, objective, optimizer, *share, settings.l2_penalty, settings.fast)
        loss = float(parallel.mean(step_loss))
        if not math.isfinite(loss):
            raise GanalyzeError(f"training diverged at step {state.step} (loss {loss}); lower train.lr (now {settings.lr}).")
        state.losses.append(loss)
        state.step += 1
        if parallel.is_main:
            logger.log_metrics({"train/loss": loss}, step=state.step - 1)
            bar.update(1)
            bar.set_postfix(loss=f"{sum(state.losses[-RUNNING_WINDOW:]) / len(state.losses[-RUNNING_WINDOW:]):.4g}")
            if state.step % settings.checkpoint_every == 0 or state.step == settings.steps:
                save()
                log.info("step %d/%d: loss %.4g (mean of the last %d), checkpoint saved", state.step, settings.steps,
                         sum(state.losses[-RUNNING_WINDOW:]) / len(state.losses[-RUNNING_WINDOW:]),
                         len(state.losses[-RUNNING_WINDOW:]))
    bar.close()
    transformer.eval().requires_grad_(False)
    if parallel.is_main:
        write_losses(state.losses, run_dir / LOSS_FILE)
    return state


def write_losses(losses: Sequence[float], path: Path) -> None:
    """Save the loss of every step as CSV (step, loss), atomically."""
    with io.StringIO(newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "loss"])
        writer.writerows(enumerate(losses))
        write_text(path, f.getvalue())
