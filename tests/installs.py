"""Install an outside package (an example or the README's) into a fresh folder, as a user would with pip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def pip_install_into(source: Path, target: Path) -> Path:
    """``pip install --no-deps --target target source``; returns ``target`` (put it on sys.path or PYTHONPATH).

    Offline with the environment's own build tools when they suffice; otherwise (an old setuptools without
    bdist_wheel, as in a fresh Python 3.11 venv) pip fetches them from the package index.
    """
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)]
    if subprocess.run(install + ["--no-index", "--no-build-isolation"], capture_output=True).returncode != 0:
        subprocess.run(install, check=True, capture_output=True, text=True)
    return target
