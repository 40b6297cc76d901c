"""Install an outside package (an example or the README's) into a fresh folder, as a user would with pip."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def pip_install_into(source: Path, target: Path) -> Path:
    """``pip install --no-deps --target target source``; returns ``target`` (put it on sys.path or PYTHONPATH).

    Offline with the environment's own build tools when they suffice; otherwise (an old setuptools without
    bdist_wheel, as in a fresh Python 3.11 venv) pip fetches them from the package index.
    """
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)]
    if subprocess.run(install + ["--no-index", "--no-build-isolation"], capture_output=True).returncode != 0:
        subprocess.run(install, check=True, capture_output=True, text=True)
    return target


def install_example(tmp_path_factory: Any, example: Path) -> Path:
    """The example package installed by pip into a fresh folder, from a copy (pip's build folders stay out of the
    tree); returns that folder."""
    source, target = tmp_path_factory.mktemp("source") / example.name, tmp_path_factory.mktemp("site")
    shutil.copytree(example, source)
    return pip_install_into(source, target)


@contextlib.contextmanager
def plugin_on_path(site: Path, monkeypatch: Any, registry: Any, name: str, module: str) -> Iterator[None]:
    """The plugin installed in ``site`` on sys.path while the block runs; its ``module`` and its ``name`` in the
    role's ``registry`` (a ganalyze.registry.Registry) are forgotten afterwards."""
    assert name not in registry.names()
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop(module, None)
    registry.factories.pop(name, None)


def train_with_plugin(site: Path, cwd: Path, args: list[str]) -> subprocess.CompletedProcess:
    """``ganalyze-train args`` in a fresh process that finds the plugin installed in ``site`` (one thread, no wandb)."""
    script = Path(sys.executable).with_name("ganalyze-train")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ganalyze.cli.train"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    return subprocess.run(command + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
