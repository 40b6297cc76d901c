"""The public API and the run folder: the README's Python block as written, the same θ from Python and the
command line, a kill -9 resumed with nothing but run_dir and resume=true, settings that follow the run (resume,
evaluation classes, class names), one writer per folder, no folder left by an error, and train.log."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import ganalyze
from ganalyze.checkpoint import load_checkpoint
from ganalyze.cli import evaluate as eval_cli
from ganalyze.cli import train as train_cli
from ganalyze.errors import GanalyzeError
from ganalyze.runlock import HOLDER_FILE, RunLock
from ganalyze.training import CHECKPOINT_FILE
from ganalyze.transformers import load_transformer

ROOT = Path(__file__).resolve().parent.parent
TINY = ["generator=tiny_biggan", "assessor=brightness", "logger=none", "train.batch_size=4", "train.fast.precision=fp32"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def readme_python_block() -> str:
    """The first ```python block after the README's "## Python API" heading."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_main(main, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run a command's main() in-process with ``args``; return its exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["prog", *args])
    capsys.readouterr()  # drop what earlier calls printed
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def theta(folder: Path) -> torch.Tensor:
    return load_transformer(folder / "transformer").theta


def test_the_readme_python_block_runs_as_written_and_its_walk_moves_the_true_size(tmp_path):
    proc = subprocess.run([sys.executable, "-c", readme_python_block()], cwd=tmp_path, env=ENV, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert float(lines[0]) > 0.8  # R² of the score against A(G(z)) + α on 50 held-out seeds
    assert lines[1] == "torch.Size([4, 5, 3, 32, 32]) (4, 5)"
    assert "shapes_size" in lines[-1]
    for picture in ("walk.png", "square.png"):
        assert (tmp_path / picture).stat().st_size > 0
    run = ganalyze.load_run(tmp_path / "runs/notebook")  # the method, not the plumbing: the true size grows
    walk = run.walk(seeds=range(4), classes="circle", alphas=[-0.04, 0, 0.04])
    assert (walk.factors["size"][:, 2] > walk.factors["size"][:, 0]).all()
    assert walk.class_kept.all() and walk.row_labels == [f"seed {i} circle" for i in range(4)]
    z = torch.randn(2, run.generator.dim_z)
    given = run.walk(z=z, classes=["square", "star"], alphas=[0.0])
    assert given.images.shape == (2, 1, 3, 32, 32)
    assert given.title.startswith("Visual definition: more shapes_size (generator ")
    assert given.title.endswith("rows = the given latents z") and given.score_label == "shapes_size score of the image"


def test_python_and_the_command_line_give_the_same_theta(tmp_path, monkeypatch, capsys):
    settings = [*TINY, "train.steps=3", "eval.enabled=false", "seed=4", "train.lr=0.03"]
    code, out, err = run_main(train_cli.main, monkeypatch, capsys, *settings, f"run_dir={tmp_path / 'cli'}")
    assert code == 0, err
    assert out.strip().splitlines()[-1] == f"Run folder: {(tmp_path / 'cli').resolve()}"
    run = ganalyze.train(overrides=settings, run_dir=str(tmp_path / "api"))
    assert torch.equal(theta(tmp_path / "cli"), run.transformer.theta)
    assert torch.equal(theta(tmp_path / "api"), run.transformer.theta)
    assert run.config.train.lr == 0.03 and run.metrics == {}  # typed settings; not evaluated


def test_a_killed_run_resumes_with_only_its_folder_to_the_uninterrupted_theta(tmp_path, monkeypatch, capsys):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    settings = [*TINY, "train.steps=40", "train.checkpoint_every=4", "train.lr=0.02", "seed=3",
                "train.alpha_range=[-0.3,0.3]", "transformer.init_std=0.05", "eval.enabled=false"]
    proc = subprocess.Popen([sys.executable, "-m", "ganalyze.cli.train", *settings, f"run_dir={killed}"], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / CHECKPOINT_FILE).exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # kill -9 right after the first checkpoint
    assert proc.wait(timeout=60) == -signal.SIGKILL
    reached = load_checkpoint(killed / CHECKPOINT_FILE)["step"]
    assert 4 <= reached < 40 and not (killed / "transformer").exists()
    assert json.loads((killed / HOLDER_FILE).read_text())["pid"] == proc.pid  # its lock is stale now

    code, out, err = run_main(train_cli.main, monkeypatch, capsys, f"run_dir={killed}", "resume=true")
    assert code == 0, err
    assert f"(resuming at step {reached})" in out
    run = ganalyze.train(overrides=settings, run_dir=str(whole))
    assert torch.equal(theta(killed), run.transformer.theta)
    assert load_checkpoint(killed / CHECKPOINT_FILE)["losses"] == load_checkpoint(whole / CHECKPOINT_FILE)["losses"]
    assert "steps: 40" in (killed / "config.yaml").read_text() and not (killed / HOLDER_FILE).exists()
    log = (killed / "train.log").read_text()
    assert log.count("Run folder:") == 2 and "step 40/40" in log  # both processes' logs, in one file

    code, _, err = run_main(train_cli.main, monkeypatch, capsys, f"run_dir={killed}", "resume=true", "train.lr=0.5")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot resume from" in err and "train.lr: 0.02 -> 0.5" in err
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, f"run_dir={killed}", "resume=true", "train.steps=10")
    assert code == 2 and "train.steps=10 is below the 40 steps" in err
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, f"run_dir={killed}", "resume=true", "train.steps=42",
                            "logger=none")  # more steps and another logger cannot change θ so far
    assert code == 0, err
    assert load_checkpoint(killed / CHECKPOINT_FILE)["step"] == 42


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_resume_needs_a_run_to_continue(make, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "r"
    if make == "empty":
        folder.mkdir()
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, f"run_dir={folder}", "resume=true")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"run_dir={folder} " in err and ("does not exist" in err or "holds no config.yaml" in err)
    assert folder.exists() == (make == "empty") and not (folder / "config.yaml").exists()


@pytest.mark.parametrize("bad, message", [
    ("train.steps=nan", "train.steps=nan must be a whole number"),
    ("seed=1.5", "seed=1.5 must be a whole number"),
    ("train.lr=1e30", "train.lr=1e+30 must be a finite number in (0, 10]"),
    ("train.alpha_range=[-1e30,1e30]", "must be two finite numbers within ±10000"),
    ("eval.grid_seeds=-1", "eval.grid_seeds=-1 must be a positive whole number"),
    ("eval.num_seeds=abc", "eval.num_seeds='abc' must be a number"),
    ("train.classes=[nope]", "unknown class name 'nope'"),  # found once the generator is built: still no folder
    ("train=5", "train=5 must be a section of settings"),
])
def test_bad_settings_are_refused_before_any_work_and_leave_no_folder(bad, message, tmp_path, monkeypatch, capsys):
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, *TINY, bad, f"run_dir={tmp_path / 'r'}")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()
    with pytest.raises(GanalyzeError, match=re.escape(message)):
        ganalyze.train(overrides=[*TINY, bad], run_dir=str(tmp_path / "r"))


def test_a_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "r"
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, *TINY, "train.steps=2", "eval.enabled=false",
                            f"run_dir={folder}")
    assert code == 0, err
    with RunLock(folder, "a test"):
        for main, args in ((train_cli.main, [f"run_dir={folder}", "resume=true", "train.steps=3"]),
                           (eval_cli.main, [f"run_dir={folder}", "eval.num_seeds=2"])):
            code, _, err = run_main(main, monkeypatch, capsys, *args)
            assert code == 2 and len(err.strip().splitlines()) == 1
            assert f"is in use by process {os.getpid()} on host" in err
    assert load_checkpoint(folder / CHECKPOINT_FILE)["step"] == 2 and not list(folder.glob("eval-*"))


def test_evaluation_follows_the_trained_classes_named_by_shape(tmp_path):
    run = ganalyze.train(overrides=["logger=none", "train.steps=2", "train.batch_size=4", "train.classes=[circle]",
                                    "eval.num_seeds=4", "eval.num_alphas=3", "eval.grid_seeds=2",
                                    "eval.random_directions=1", "eval.grid_classes=[star]"], run_dir=str(tmp_path / "r"))
    metrics = json.loads((tmp_path / "r/eval/metrics.json").read_text())
    assert metrics["settings"]["classes"] == [0]  # eval.classes defaults to train.classes
    rows = (tmp_path / "r/eval/rows.csv").read_text().splitlines()[1:]
    assert {row.split(",")[2] for row in rows} == {"0"}
    assert (tmp_path / "r/eval/visual_definition_class4.png").is_file()
    assert run.walk(seeds=[1, 2], alphas=[0.0]).row_labels == ["seed 1 circle", "seed 2 circle"]
    assert run.generator.class_names[:3] == ("circle", "square", "triangle")


def test_every_value_of_a_multirun_sweep_is_checked_before_any_job(tmp_path, monkeypatch, capsys):
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, "-m", *TINY, "assessor=brightness,redness",
                            "train.lr=0.1,1e30", f"run_dir={tmp_path / 'sweep'}")
    assert code == 2 and err.strip() == ("ganalyze-train: error: train.lr=1e+30 must be a finite number in (0, 10] "
                                         "(e.g. train.lr=0.01).")
    assert not (tmp_path / "sweep").exists()


def test_help_shows_only_the_commands_own_settings_with_examples(monkeypatch, capsys):
    code, out, _ = run_main(train_cli.main, monkeypatch, capsys, "--help")
    assert code == 0 and "ganalyze-train train.classes=[circle]" in out and "  steps: 300" in out
    assert "  transformer: class_dependent, conditional, linear, nonlinear" in out and "projection" not in out
    code, out, _ = run_main(eval_cli.main, monkeypatch, capsys, "--help")
    assert code == 0 and "ganalyze-eval run_dir=" in out and "  grid_seeds: 8" in out and "  steps:" not in out


def test_condition_on_walks_a_direction_orthogonal_to_the_others(tmp_path):
    from ganalyze.transformers.conditional import linear_rows
    from ganalyze.transformers.linear import LinearTransformer

    run = ganalyze.train(overrides=["logger=none", "train.steps=2", "train.batch_size=4", "eval.enabled=false"],
                         run_dir=str(tmp_path / "r"))
    torch.manual_seed(1)
    other = replace(run, transformer=LinearTransformer(run.generator.dim_z, init_std=1.0).requires_grad_(False))
    conditioned = run.condition_on([other])
    direction, held = linear_rows(conditioned.transformer, "conditioned"), linear_rows(other.transformer, "other")
    assert abs(float(torch.nn.functional.cosine_similarity(direction, held))) < 1e-5
    assert float(direction.norm()) > 0.1 * float(linear_rows(run.transformer, "run").norm())
    assert conditioned.walk(seeds=range(2), alphas=[0.0, 0.02]).images.shape[:2] == (2, 2)


def test_run_edit_inverts_rendered_images_and_walks_their_true_size(tmp_path):
    from ganalyze.world.variants import load_variant

    run = ganalyze.train(overrides=["logger=none", "train.steps=60", "eval.enabled=false"], run_dir=str(tmp_path / "r"))
    images, factors = load_variant("broad").sample(3, seed=5, resolution=run.generator.resolution)
    result = run.edit(images, alphas=[-0.02, 0.02])
    assert [row["psnr"] > 25 for row in result.report] == [True] * 3
    size = result.sweep.factors["size"]  # columns: the α grid with 0 added, sorted
    assert (size[:, -1] > size[:, 0]).all()
