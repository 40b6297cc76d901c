"""Atomic file writes: every file the package writes appears whole or not at all.

Each writer fills a temporary file beside the target, flushes and fsyncs it, then renames it over the target
(``os.replace`` is atomic on one file system). A full disk, a read-only folder or a kill mid-write leaves the
previous file intact and raises :class:`ganalyze.errors.OutputError` naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from ganalyze.errors import OutputError


def describe_os_error(err: OSError, path: str | os.PathLike) -> str:
    """One sentence on why a file operation on ``path`` failed, with the remedy a user can act on."""
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"no space left on the device holding {path}; free some space or write elsewhere"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path} cannot be accessed ({err.strerror}); choose a folder you can read and write"
    if err.errno == errno.ENOENT:
        return f"{path} does not exist; check the path"
    if err.errno == errno.ENOTDIR:
        return f"a part of {path} is a file, not a folder; choose another path"
    if err.errno == errno.EISDIR:
        return f"{path} is a folder where a file was expected; give a file name"
    return f"{path} could not be used ({err.strerror or err})"


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on a clean exit it is fsynced and renamed to ``path``."""
    path = Path(path)
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files only: mode 'w' or 'wb', got {mode!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise OutputError(describe_os_error(err, path) + ".") from err
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        raise OutputError(describe_os_error(err, path) + "; the previous file, if any, is unchanged.") from err
    except BaseException:
        _remove_quietly(tmp)
        raise


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_quietly(path: str) -> None:
    """Delete a leftover temporary file, ignoring that it may already be gone."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any, indent: int = 2) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (NaN is written as null: strict JSON readers accept it)."""
    return write_text(path, json.dumps(_nan_to_none(data), indent=indent, allow_nan=False) + "\n")


def _nan_to_none(value: Any) -> Any:
    """Replace float NaN/inf anywhere in nested lists and dicts by None."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(item) for item in value]
    return value


def write_with(path: str | os.PathLike, writer: Callable[[IO[bytes]], Any]) -> Path:
    """Let ``writer`` fill a binary handle (``torch.save``, ``fig.savefig``, ``image.save``), then commit it atomically."""
    with atomic_open(path, "wb") as handle:
        writer(handle)
    return Path(path)
