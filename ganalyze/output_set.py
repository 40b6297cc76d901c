"""A set of result files replaced together or not at all: written into a staging folder, then renamed into place.

Each file alone is atomic (ganalyze.atomic), but a command that writes three files and fails on the third (a full
disk) would leave two new files beside one old one. Staging them first puts every byte on the disk before any
earlier result is touched; the renames that follow need no space and cannot half-happen.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ganalyze.atomic import describe_os_error
from ganalyze.errors import OutputError


@contextlib.contextmanager
def staged_outputs(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder inside ``folder``; on a clean exit move its files over ``folder``'s, else drop it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    except OSError as err:
        raise OutputError(describe_os_error(err, folder) + "; nothing was written.") from err
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            os.replace(item, folder / item.name)
    except OutputError as err:  # name the result's own path, not the hidden staging one
        raise OutputError(str(err).replace(str(stage) + os.sep, str(folder) + os.sep)) from err
    finally:
        shutil.rmtree(stage, ignore_errors=True)
