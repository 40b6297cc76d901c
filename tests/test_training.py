"""The training loop on a tiny random BigGAN with the brightness assessor: frozen roles, no-grad targets,
clipped targets, disjoint seeds, checkpoints, and a resume after a real SIGKILL that ends at the same θ."""

import os
import signal
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from assessors import create_assessor
from ganalyze.build import build_generator
from ganalyze.checkpoint import load_checkpoint
from ganalyze.cli.common import check_group_choices
from ganalyze.cli.train import run_training
from ganalyze.errors import ConfigError, GanalyzeError, UnknownNameError, WeightsError
from ganalyze.logger import NullLogger
from ganalyze.objectives import ScoreObjective
from ganalyze.sampling import HELD_OUT_OFFSET, held_out_seeds, stream_seed, training_batch
from ganalyze.training import CHECKPOINT_FILE, TrainSettings, resume_state, train
from ganalyze.transformers import LinearTransformer, load_transformer

TESTS = Path(__file__).resolve().parent
TINY = ["generator=tiny_biggan", "assessor=brightness", "logger=none", "eval.enabled=false",
        "train.batch_size=4", "train.lr=0.05"]


class KillAtStep(NullLogger):
    """A logger that SIGKILLs its own process while logging step ``kill_at`` (between two checkpoints)."""

    def __init__(self, kill_at: int, **kwargs):
        super().__init__()
        self.kill_at = kill_at

    def log_metrics(self, metrics, step=None):
        if step == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def compose_config(*overrides: str):
    """The ganalyze-train config with command-line style overrides."""
    with initialize_config_module(version_base="1.3", config_module="ganalyze.conf"):
        return compose("config", overrides=list(overrides))


@pytest.fixture(scope="module")
def tiny():
    return build_generator(OmegaConf.load(files("ganalyze.conf").joinpath("generator/tiny_biggan.yaml")))


@pytest.fixture(scope="module")
def objective():
    return ScoreObjective(create_assessor("brightness"))


class SpyObjective(ScoreObjective):
    """Records whether autograd was on when the target was computed."""

    grad_enabled_in_target: list

    def target(self, x0, alpha):
        self.grad_enabled_in_target.append(torch.is_grad_enabled())
        return super().target(x0, alpha)


def test_training_moves_theta_only_with_frozen_generator_and_no_grad_targets(tiny, tmp_path):
    objective = SpyObjective(create_assessor("brightness"))
    objective.grad_enabled_in_target = []
    torch.manual_seed(0)
    t = LinearTransformer(tiny.dim_z)
    before = t.theta.detach().clone()
    state = train(tiny, t, objective, TrainSettings(steps=3, batch_size=2, lr=0.05), tmp_path, {"test": 1})
    assert len(state.losses) == 3 and not torch.equal(t.theta, before)
    assert objective.grad_enabled_in_target == [False, False, False]
    for module in (tiny, objective):
        assert not module.training and all(p.grad is None and not p.requires_grad for p in module.parameters())
    assert (tmp_path / CHECKPOINT_FILE).exists() and (tmp_path / "train_loss.csv").read_text().count("\n") == 4


class FirstCoordinateGenerator(torch.nn.Module):
    """Grey images whose brightness is sigmoid(z[:, 0]): every other latent coordinate is unused."""

    dim_z, num_classes, resolution = 4, 1, 8

    def sample_latents(self, n, seed, truncation=1.0, classes=None):
        return torch.randn(n, 4, generator=torch.Generator().manual_seed(seed)), torch.zeros(n, dtype=torch.long)

    def forward(self, z, y):
        return torch.sigmoid(z[:, :1, None, None]).expand(len(z), 3, 8, 8)


def test_l2_penalty_shrinks_theta_where_the_generator_does_not_look(objective, tmp_path):
    def trained(l2_penalty):
        torch.manual_seed(0)
        t = LinearTransformer(4, init_std=1.0)
        train(FirstCoordinateGenerator(), t, objective,
              TrainSettings(steps=60, batch_size=8, lr=0.05, alpha_range=(-0.1, 0.1), l2_penalty=l2_penalty),
              tmp_path / str(l2_penalty), {})
        return t.theta.detach()[0]

    torch.manual_seed(0)
    start = LinearTransformer(4, init_std=1.0).theta.detach()[0]
    plain, penalised = trained(0.0), trained(1e-4)
    assert torch.equal(plain[1:], start[1:])  # Adam never moves coordinates without gradient
    assert penalised[1:].abs().max() < 0.5 * start[1:].abs().min()
    assert penalised[0] > start[0] and plain[0] > start[0]  # both learn to brighten along z[0]


def test_target_is_clipped_to_the_score_range(objective):
    white = torch.ones(2, 3, 8, 8)
    target = objective.target(white, torch.tensor([0.5, -0.25]))
    assert torch.allclose(target, torch.tensor([1.0, 0.75]), atol=1e-4)  # brightness of white is 1, range (0, 1)
    unclipped = ScoreObjective(objective.assessor, clip=False).target(white, torch.tensor([0.5, -0.25]))
    assert unclipped[0] > 1.4


def test_batches_depend_on_seed_and_step_and_alpha_is_uniform_per_sample(tiny):
    z, y, a = training_batch(tiny, 0, 5, 256, 1, (-0.2, 0.1))
    z2, y2, a2 = training_batch(tiny, 0, 5, 256, 1, (-0.2, 0.1))
    assert torch.equal(z, z2) and torch.equal(y, y2) and torch.equal(a, a2)
    assert a.shape == (256,) and a.min() >= -0.2 and a.max() <= 0.1 and a.std() > 0.05
    z3, _, a3 = training_batch(tiny, 0, 6, 256, 1, (-0.2, 0.1))
    assert not torch.equal(z, z3) and not torch.equal(a, a3)
    assert training_batch(tiny, 0, 5, 4, 3, (0.0, 1.0))[2].shape == (4, 3)


def test_training_seeds_never_reach_the_held_out_seeds():
    train_seeds = [stream_seed(s, stream, step) for s in range(3) for stream in ("latents", "alpha") for step in range(500)]
    assert max(train_seeds) < HELD_OUT_OFFSET <= min(held_out_seeds(200))
    assert len(set(train_seeds)) == len(train_seeds)


@pytest.mark.parametrize("bad, message", [
    (dict(alpha_range=(0.1, 0.1)), r"alpha_range=\[0.1, 0.1\] is empty"),
    (dict(alpha_range=(0.2, -0.2)), r"e.g. train.alpha_range=\[-0.2, 0.2\]"),
    (dict(batch_size=0), "train.batch_size=0 must be a positive"),
    (dict(lr=0.0), "train.lr=0.0"),
])
def test_bad_settings_fail_before_any_work(bad, message):
    with pytest.raises(ConfigError, match=message):
        TrainSettings(**bad)


def test_existing_checkpoint_needs_resume_and_the_same_config(tiny, objective, tmp_path):
    torch.manual_seed(0)
    train(tiny, LinearTransformer(tiny.dim_z), objective, TrainSettings(steps=2, batch_size=2), tmp_path, {"lr": 0.01})
    with pytest.raises(ConfigError, match="already holds a checkpoint .step 2.; pass resume=true"):
        resume_state(tmp_path, {"lr": 0.01}, resume=False)
    with pytest.raises(ConfigError, match=r"lr: 0.01 -> 0.02"):
        resume_state(tmp_path, {"lr": 0.02}, resume=True)
    assert resume_state(tmp_path, {"lr": 0.01}, resume=True)["step"] == 2
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="could not be read as a safe checkpoint"):
        resume_state(tmp_path, {"lr": 0.01}, resume=True)


def test_diverging_loss_is_reported(tiny, objective, tmp_path):
    with pytest.raises(GanalyzeError, match="diverged at step 0"):
        train(tiny, LinearTransformer(tiny.dim_z, init_std=float("nan")), objective, TrainSettings(steps=1), tmp_path, {})


def test_a_killed_run_resumes_to_the_same_theta_as_an_uninterrupted_one(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    common = [*TINY, "train.steps=10", "train.checkpoint_every=3"]
    env = {**os.environ, "PYTHONPATH": str(TESTS), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "ganalyze.cli.train", *common, f"run_dir={killed}",
         "logger._target_=test_training.KillAtStep", "+logger.kill_at=7"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert load_checkpoint(killed / CHECKPOINT_FILE)["step"] == 6  # steps 6 and 7 were lost with the process
    assert not (killed / "transformer").exists()

    run_training(compose_config(*common, f"run_dir={killed}", "resume=true"))
    run_training(compose_config(*common, f"run_dir={whole}"))
    resumed, uninterrupted = load_transformer(killed / "transformer"), load_transformer(whole / "transformer")
    assert torch.equal(resumed.theta, uninterrupted.theta)
    assert load_checkpoint(killed / CHECKPOINT_FILE)["losses"] == load_checkpoint(whole / CHECKPOINT_FILE)["losses"]


def test_multirun_sweeps_over_assessors_pass_the_name_check_and_bad_names_in_them_fail():
    check_group_choices(["-m", "assessor=brightness,redness", "train.classes=[0],[1]"])
    with pytest.raises(UnknownNameError, match="unknown assessor 'nope'"):
        check_group_choices(["-m", "assessor=brightness,nope"])
