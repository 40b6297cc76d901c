"""The run's log: what the package logs while a run works on its folder goes to <run_dir>/train.log too.

The file is rewritten whole through ganalyze/atomic.py on each record (a run logs tens of lines: its start,
checkpoints, the evaluation summary), so a kill never leaves it half-written; a resumed run appends.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from ganalyze.atomic import write_text

LOG_FILE = "train.log"
PACKAGE_LOGGER = "ganalyze"


class AtomicFileHandler(logging.Handler):
    """A logging handler keeping the whole text in memory and replacing ``path`` with it on every record."""

    def __init__(self, path: Path):
        super().__init__(logging.INFO)
        self.path = path
        self.text = path.read_text(encoding="utf-8") if path.is_file() else ""
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.text += self.format(record) + "\n"
        write_text(self.path, self.text)


class RunLog:
    """``with RunLog(folder):`` the ``ganalyze`` loggers' records (INFO and up) also go to folder/train.log."""

    def __init__(self, folder: str | Path, name: str = LOG_FILE):
        self.handler = AtomicFileHandler(Path(folder) / name)
        self.logger = logging.getLogger(PACKAGE_LOGGER)
        self.level = self.logger.level

    def __enter__(self) -> "RunLog":
        self.logger.addHandler(self.handler)
        if self.logger.getEffectiveLevel() > logging.INFO:
            self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if error is not None and not isinstance(error, KeyboardInterrupt):
            self.logger.error("stopped by %s: %s", type(error).__name__, error)
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
