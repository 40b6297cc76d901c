"""Atomic writes: a failed write leaves the previous file whole and no temporary file behind."""

import errno
import json
import os

import pytest

from ganalyze import atomic
from ganalyze.errors import OutputError


def test_write_json_replaces_whole_file_and_maps_nan(tmp_path):
    path = tmp_path / "sub" / "m.json"
    atomic.write_json(path, {"a": float("nan"), "b": [1.5, float("inf")]})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, None]}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]
    old = os.umask(0o022)
    os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~old  # readable by others as open() would make it


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "rows.csv"
    atomic.write_text(path, "old,content\n")

    def fill_then_fail(handle):
        handle.write(b"new partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputError, match="no space left"):
        atomic.write_with(path, fill_then_fail)
    assert path.read_text() == "old,content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


def test_read_only_folder_is_one_clear_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):  # root ignores folder permissions, so the refusal is simulated
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="cannot be accessed"):
        atomic.write_text(tmp_path / "x.txt", "x")


def test_interrupt_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a.bin"
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_open(path) as handle:
            handle.write(b"x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
