"""One writer per run folder: an exclusive lock held for the whole job, with the holder's pid and host on record.

The lock is ``flock`` on ``<folder>/.lock``: the kernel drops it when its process ends, so the lock of a killed
run (kill -9, power loss of a local disk) is stale by construction and the next writer simply takes it over.
Who holds it is written beside it, atomically, in ``<folder>/.lock.json``, so a refused writer can say who.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from ganalyze.atomic import describe_os_error, write_json
from ganalyze.errors import OutputError

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock.json"


class RunFolderBusy(OutputError):
    """Another process writes into this run folder now."""


def holder(folder: Path) -> str:
    """Who holds the lock of ``folder``, in words (from its .lock.json), or 'another process'."""
    try:
        info = json.loads((folder / HOLDER_FILE).read_text())
        return f"process {info['pid']} on host {info['host']} (since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class RunLock:
    """``with RunLock(folder):`` holds the folder's lock (taking over one left by a killed process) or raises
    RunFolderBusy, one paragraph naming the holder; the folder must exist."""

    def __init__(self, folder: str | os.PathLike, job: str = "a run"):
        self.folder, self.job, self.fd = Path(folder), job, -1

    def __enter__(self) -> "RunLock":
        path = self.folder / LOCK_FILE
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise OutputError(describe_os_error(err, path) + ".") from err
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RunFolderBusy(
                f"run folder {self.folder} is in use by {holder(self.folder)}: one process writes into a run folder "
                f"at a time, so {self.job} was not started. Wait for it to finish (or stop it), or choose another "
                "run_dir."
            ) from None
        write_json(self.folder / HOLDER_FILE, {"pid": os.getpid(), "host": socket.gethostname(), "job": self.job,
                                                "since": time.strftime("%Y-%m-%d %H:%M:%S")})
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        """Forget the holder and release the lock (the empty .lock file stays: removing it could let two in)."""
        try:
            (self.folder / HOLDER_FILE).unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)  # closing the descriptor releases the flock
