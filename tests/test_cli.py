"""ganalyze-train and ganalyze-eval from the command line: the whole job on a tiny BigGAN, and one-paragraph
errors with a non-zero exit and no traceback for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganalyze.cli import evaluate as eval_cli
from ganalyze.cli import train as train_cli

TINY = ["generator=tiny_biggan", "assessor=brightness", "logger=none", "train.batch_size=2", "train.steps=2",
        "eval.num_seeds=4", "eval.num_alphas=3", "eval.grid_seeds=2"]


def console_script(name: str) -> list[str]:
    """The installed console script, or the module when running from a source tree."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", f"ganalyze.cli.{name.split('-')[1]}"]


def run_main(main, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run a command's main() in-process with ``args``; return its exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["prog", *args])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A whole ganalyze-train job (train, eval, visual definitions) as a user runs it."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    proc = subprocess.run([*console_script("ganalyze-train"), *TINY, f"run_dir={run_dir}", "eval.grid_classes=[1]"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir, proc


def test_the_main_job_writes_everything_and_prints_the_run_folder(finished_run):
    run_dir, proc = finished_run
    assert proc.stdout.strip().splitlines()[-1] == f"Run folder: {run_dir.resolve()}"
    assert "eval trained: score_spearman=" in proc.stdout
    for name in ("config.yaml", "checkpoint.pt", "train_loss.csv", "train_loss.png", "transformer/config.json",
                 "transformer/model.pt", "eval/metrics.json", "eval/rows.csv", "eval/changes_vs_alpha.png",
                 "eval/visual_definition.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "eval/visual_definition_class1.png").is_file()
    assert "train.batch_size: 2" not in (run_dir / "config.yaml").read_text()  # resolved YAML, not overrides
    assert "batch_size: 2" in (run_dir / "config.yaml").read_text()
    assert not (run_dir / "wandb").exists()  # logger=none


def test_ganalyze_eval_re_evaluates_a_run_with_new_settings(finished_run, monkeypatch, capsys):
    run_dir, _ = finished_run
    first = (run_dir / "eval/metrics.json").read_bytes()
    code, out, err = run_main(eval_cli.main, monkeypatch, capsys, f"run_dir={run_dir}", "eval.num_seeds=3",
                              "eval.grid_classes=[2]")
    assert code == 0, err
    out_dir = Path(out.strip().splitlines()[-1].removeprefix("evaluation written to "))
    assert out_dir.parent == run_dir and out_dir.name.startswith("eval-")  # a new folder: the first one is kept
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["num_seeds"] == 3 and (out_dir / "visual_definition_class2.png").is_file()
    assert (run_dir / "eval/metrics.json").read_bytes() == first
    code, _, err = run_main(eval_cli.main, monkeypatch, capsys, f"run_dir={run_dir}", f"eval.out={out_dir}")
    assert code == 2 and "already holds files; ganalyze-eval never overwrites" in err
    code, _, err = run_main(eval_cli.main, monkeypatch, capsys, f"run_dir={run_dir}", "eval.numseeds=3")
    assert code == 2 and "unknown setting 'eval.numseeds': eval has enabled, num_seeds" in err
    code, _, err = run_main(eval_cli.main, monkeypatch, capsys, f"run_dir={run_dir}", "train.lr=1")
    assert code == 2 and "cannot change train.lr" in err


def test_ganalyze_eval_falls_back_to_the_last_checkpoint_of_an_unfinished_run(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "r"
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, *TINY, "eval.enabled=false", f"run_dir={run_dir}")
    assert code == 0, err
    (run_dir / "transformer").rename(tmp_path / "final")  # as if killed after its last checkpoint
    code, out, err = run_main(eval_cli.main, monkeypatch, capsys, f"run_dir={run_dir}", "eval.num_seeds=2")
    assert code == 0, err
    assert "evaluating its checkpoint at step 2" in out and len(list(run_dir.glob("eval-*/metrics.json"))) == 1


def test_a_bad_value_exits_non_zero_with_one_paragraph_from_the_console_script(tmp_path):
    proc = subprocess.run([*console_script("ganalyze-train"), *TINY, "train.batch_size=0", f"run_dir={tmp_path / 'r'}"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "ganalyze-train: error: train.batch_size=0 must be a positive whole number (e.g. train.batch_size=32)."]


def corrupted_weights(tmp_path: Path) -> Path:
    (tmp_path / "w").mkdir()
    (tmp_path / "w/config.json").write_text(json.dumps({"output_dim": 32, "z_dim": 16}))
    (tmp_path / "w/pytorch_model.bin").write_bytes(b"PK\x03\x04 truncated")
    return tmp_path / "w"


@pytest.mark.parametrize("overrides, expected", [
    (["generator=nope"], "unknown generator 'nope'; known generators: biggan_deep_128, biggan_deep_256, biggan_deep_512"),
    (["assessor=nope"], "unknown assessor 'nope'; known assessors: "),
    (["transformer=nope"], "unknown transformer 'nope'; known transformers: class_dependent, conditional, linear, nonlinear"),
    (["assessor.name=nope"], "unknown assessor 'nope'"),
    (["eval.grid_classes=[goldfish]"], "unknown class name 'goldfish': this generator's classes have no names; use ids 0-9"),
    (["train.alpha_range=[0.2,0.1]"], "train.alpha_range=[0.2, 0.1] is empty"),
    (["train.batch_size=-1"], "train.batch_size=-1 must be a positive whole number"),
    (["generator.architecture.z_dim=-1"], "generator.architecture.z_dim=-1 must be a whole number >= 1"),
    (["train.batch_size=1000000000"], "train.batch_size=1000000000 (1,000,000,000 images of 3x32x32) needs at least"),
    (["train.alpha_range=[a,b]"], "train.alpha_range=['a', 'b'] must be a list of numbers (the default is"),
    (["seed=abc"], "seed='abc' must be a number (the default is seed=0)"),
    (["eval.num_seeds=many"], "eval.num_seeds='many' must be a number"),
    (["resume=yes"], "resume='yes' must be true or false"),
    (["train.stpes=5"], "unknown setting 'train.stpes': train has steps, batch_size, lr"),
    (["sed=1"], "unknown setting 'sed': the top level has seed, device"),
    (["generator=biggan_deep_128"], "generator.weights is not set and the published weights are not in the cache; downloads are switched off"),
    (["generator.pretrained=true", "generator.weights=MISSING"], "generator.weights=MISSING is not a folder"),
    (["generator.pretrained=true", "generator.weights=CORRUPT"], "is corrupted or not a safe state dict"),
])
def test_bad_input_gets_one_paragraph_and_exit_code_2(overrides, expected, tmp_path, monkeypatch, capsys):
    overrides = [o.replace("CORRUPT", str(corrupted_weights(tmp_path))) if "CORRUPT" in o else o for o in overrides]
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, *TINY, *overrides, f"run_dir={tmp_path / 'r'}")
    assert code == 2
    assert err.startswith("ganalyze-train: error: ") and expected in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_resuming_under_another_config_is_refused(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "r"
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, *TINY, "eval.enabled=false", "train.lr=0.02",
                            f"run_dir={run_dir}")
    assert code == 0, err
    theta = torch.load(run_dir / "transformer/model.pt", weights_only=True)["theta"]
    code, _, err = run_main(train_cli.main, monkeypatch, capsys, *TINY, f"run_dir={run_dir}", "resume=true",
                            "train.lr=0.5", "transformer.preserve_norm=true")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "cannot resume from" in err and "train.lr: 0.02 -> 0.5" in err and "transformer.preserve_norm: False -> True" in err
    assert torch.equal(torch.load(run_dir / "transformer/model.pt", weights_only=True)["theta"], theta)
    assert "lr: 0.02" in (run_dir / "config.yaml").read_text()  # the run's record is untouched


@pytest.mark.parametrize("command, own_key", [("ganalyze-project", "num_samples"), ("ganalyze-project-train", "autoencoder"),
                                              ("ganalyze-steer-bias", "factors"), ("ganalyze-steer-power", "family"),
                                              ("ganalyze-audit", "sources")])
def test_each_hydra_command_helps_with_its_own_settings_only(command, own_key):
    result = subprocess.run([str(Path(sys.executable).parent / command), "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"\n{own_key}:" in result.stdout and f"    {command}" in result.stdout  # its settings and an example line
    assert "inverter:" not in result.stdout and "Configuration groups" not in result.stdout  # not the whole package
