"""Experiment loggers behind one small interface; the only module of the package that imports wandb.

WandbLogger runs online when an API key is configured (WANDB_API_KEY or a netrc login) and offline
otherwise, with a short init timeout: without network it says so in one line and falls back to offline (then to
logging nothing), so a run never hangs or fails for lack of network. NullLogger logs nothing.
"""

from __future__ import annotations

import logging
import netrc
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

ImageLike = Image.Image | np.ndarray | str | os.PathLike


class NullLogger:
    """Logs nothing (``logger=none``): the loop's calls cost nothing and write no file."""

    def __init__(self, **_: Any):
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record scalar metrics (e.g. the training loss) at a step."""

    def log_images(self, images: Mapping[str, ImageLike], step: int | None = None) -> None:
        """Record images (PIL images, HWC uint8 arrays or PNG paths) under their keys."""

    def log_table(self, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Record a table; PIL images and paths (pathlib.Path) of image files in cells are logged as images."""

    def log_records(self, key: str, records: Sequence[Mapping[str, Any]]) -> None:
        """Record one table row per dict (columns: the keys in first-seen order; a missing key is None), as
        ``log_table``: e.g. seed, class, α, score and image of each picture, so a dashboard filters them by any column."""
        columns = list(dict.fromkeys(name for record in records for name in record))
        self.log_table(key, columns, [[record.get(name) for name in columns] for record in records])

    def finish(self) -> None:
        """Flush and close the run."""


def wandb_key_configured() -> bool:
    """True when wandb would find an API key without prompting: WANDB_API_KEY or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlsplit(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbLogger(NullLogger):
    """Logs to Weights & Biases; ``mode`` is auto (online with a key, else offline), online, offline or disabled."""

    def __init__(self, run_dir: str | os.PathLike, project: str = "ganalyze", name: str | None = None,
                 run_config: Mapping[str, Any] | None = None, mode: str = "auto", entity: str | None = None,
                 init_timeout: float = 15.0, job_type: str = "train"):
        super().__init__()
        import wandb

        self._wandb = wandb
        if mode not in ("auto", "online", "offline", "disabled"):
            raise ValueError(f"logger.mode must be auto, online, offline or disabled, got {mode!r}")
        if mode == "auto":
            mode = os.environ.get("WANDB_MODE") or ("online" if wandb_key_configured() else "offline")
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        options = dict(project=project, name=name, entity=entity, dir=str(run_dir), job_type=job_type,
                       config=dict(run_config or {}), reinit="finish_previous")
        self.run = self._start(options, mode, init_timeout)

    def _start(self, options: dict[str, Any], mode: str, init_timeout: float) -> Any:
        """wandb.init in ``mode``, else offline, else no logging (None); one line on stderr at most, saying which."""
        failures = []
        for attempt in dict.fromkeys([mode, "offline"]):
            try:
                settings = self._wandb.Settings(init_timeout=init_timeout, silent=True)
                run = self._wandb.init(mode=attempt, settings=settings, **options)
            except Exception as err:  # wandb raises CommError, UsageError, timeouts...
                failures.append(f"could not start in {attempt} mode ({str(err).strip().splitlines()[0][:200]})")
                continue
            if failures:
                print(f"ganalyze: wandb {failures[0]}; logging offline into {options['dir']} instead (upload "
                      "later with `wandb sync`).", file=sys.stderr)
            return run
        print(f"ganalyze: wandb {'; '.join(failures)}; logging to wandb is off for this run (the local files are "
              "complete).", file=sys.stderr)
        return None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if self.run is not None:
            self.run.log(dict(metrics), step=step)

    def log_images(self, images: Mapping[str, ImageLike], step: int | None = None) -> None:
        if self.run is not None:
            self.run.log({k: self._image(v) for k, v in images.items()}, step=step)

    def log_table(self, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if self.run is not None:
            data = [[self._image(c) if isinstance(c, (Image.Image, Path)) else c for c in row] for row in rows]
            self.run.log({key: self._wandb.Table(columns=list(columns), data=data)})

    def finish(self) -> None:
        if self.run is not None:
            try:
                self.run.finish()
            except Exception as err:  # a lost connection must not fail a finished run
                warnings.warn(f"wandb could not finish cleanly ({err}); the local files are complete.", stacklevel=2)
            self.run = None

    def _image(self, image: ImageLike) -> Any:
        """A wandb.Image from a PIL image, an array or a file path."""
        if isinstance(image, (str, os.PathLike)):
            image = Image.open(image)
        return self._wandb.Image(image)
