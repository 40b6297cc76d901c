"""The README is a guide a newcomer can follow: its first commands are the set-up commands, and its
bring-your-own-assessor package, copied from the README text alone, installs and trains with an option
override (`assessor.gain=2`), as does a `_target_` YAML found through `hydra.searchpath`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from installs import pip_install_into

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP = [
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e . && ganalyze-train',
    'python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]" && OMP_NUM_THREADS=1 pytest -q',
]
FILE_BLOCK = re.compile(r"^File `(?P<path>[^`]+)`:\n\n```[a-z]*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
TINY_RUN = ["logger=none", "train.steps=3", "train.batch_size=4", "eval.num_seeds=4", "eval.num_alphas=3",
            "eval.random_directions=1", "eval.grid_seeds=2"]


def readme_files() -> dict[str, str]:
    """The files the README spells out, each introduced by a line "File `path`:" and one fenced block."""
    return {m["path"]: m["body"] for m in FILE_BLOCK.finditer(README)}


def train_command() -> list[str]:
    """ganalyze-train as installed beside this interpreter (or its module)."""
    script = Path(sys.executable).with_name("ganalyze-train")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ganalyze.cli.train"]


def run_train(args: list[str], cwd: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess:
    """Run ganalyze-train in ``cwd`` with extra folders on PYTHONPATH, one thread, no wandb."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join([*map(str, pythonpath), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(train_command() + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_readme_starts_with_the_two_setup_commands():
    first_block = re.search(r"```bash\n(.*?)```", README, re.DOTALL)
    assert first_block is not None and README.index(first_block.group(0)) < README.index("\n## ")
    assert first_block.group(1).strip().splitlines() == SETUP


def test_readme_spells_out_a_complete_package():
    files = readme_files()
    assert {"my_assessor/pyproject.toml", "my_assessor/greenness/__init__.py",
            "my_assessor/greenness/greenness.yaml"} <= set(files)
    assert 'package-data' in files["my_assessor/pyproject.toml"]  # the YAML must ship, or `assessor.gain` is refused


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The README's package written out from the README text and pip-installed into a fresh folder."""
    source, target = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("site")
    for path, body in readme_files().items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(body)
    return pip_install_into(source / "my_assessor", target)


def test_readme_assessor_package_trains_with_an_option(installed, tmp_path):
    run_dir = tmp_path / "run"
    result = run_train(["assessor=greenness", "assessor.gain=2", f"run_dir={run_dir}", *TINY_RUN], tmp_path, [installed])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["assessor"] == {"_target_": "assessors.create_assessor", "name": "greenness", "gain": 2}
    assert (run_dir / "transformer" / "model.pt").is_file() and (run_dir / "eval" / "metrics.json").is_file()


def test_readme_searchpath_yaml_outside_a_package(installed, tmp_path):
    """The README's second way: `_target_` naming the class, in a YAML on Hydra's search path."""
    conf = tmp_path / "my_conf" / "assessor"
    conf.mkdir(parents=True)
    (conf / "mine.yaml").write_text("_target_: greenness.Greenness\nname: mine\ngain: 3.0\n")
    run_dir = tmp_path / "run"
    result = run_train([f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]", "assessor=mine", f"run_dir={run_dir}",
                        "eval.enabled=false", *TINY_RUN], tmp_path, [installed])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["assessor"] == {"_target_": "greenness.Greenness", "name": "mine", "gain": 3.0}
    assert len((run_dir / "train_loss.csv").read_text().strip().splitlines()) == 1 + 3
