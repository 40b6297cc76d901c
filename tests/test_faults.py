"""Fault injection for ganalyze-project, -project-train, -quality, -bench, -steer-bias, -factors: bad values, a full disk,
a read-only folder, corrupted weights, odd images, out of memory and Ctrl-C. Each case asserts the exit code, a
one-paragraph message without a traceback, and that earlier results are intact.

A real full or read-only disk is a small tmpfs (needs root and mount; skipped otherwise); the same faults are also
injected everywhere by patching the writer, since root ignores chmod.
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganalyze import atomic
from ganalyze.cli import errors as cli_errors
from ganalyze.cli import project as project_cli
from ganalyze.cli import steer_bias as steer_bias_cli
from ganalyze.errors import ConfigError
from ganalyze.images import load_image, read_rgb
from ganalyze.memory_budget import available_bytes, check_fits
from ganalyze.transformers.nonlinear import NonlinearTransformer

PROJECT = ["logger=none", "num_inputs=2", "num_samples=2"]


def run_cli(main, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """A command's main() in-process with ``args`` as its command line: (exit code, stdout, stderr)."""
    no_debug(monkeypatch)
    monkeypatch.setattr(sys, "argv", ["prog", *args])
    code = 0
    try:
        result = main()
        code = result if isinstance(result, int) else 0
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_paragraph(err: str, *needles: str) -> None:
    """stderr holds the command's error as one line naming ``needles``, and no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def no_debug(monkeypatch) -> None:
    """Tracebacks off for this test, and whatever --debug switches on is undone after it."""
    for name in cli_errors.DEBUG_ENV:
        monkeypatch.setenv(name, "0")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (but Hydra's own records) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log"}


@pytest.fixture
def projected(tmp_path, monkeypatch, capsys) -> Path:
    """An earlier, complete ganalyze-project result (shipped weights, two world images)."""
    out = tmp_path / "out"
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={out}")
    assert code == 0, err
    assert {"projection.png", "samples.png", "projection.json"} <= set(snapshot(out))
    return out


# ---------------------------------------------------------------- the boundary itself

@pytest.mark.parametrize("fault, code, needle", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/x.png"), 2, "no space left"),
    (PermissionError(errno.EACCES, "Permission denied", "/data"), 2, "cannot be accessed"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/x"), 2, "Read-only"),
    (MemoryError(), 2, "out of memory"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried"), 2,
     "out of memory"),
    (ConfigError("num_inputs=0 must be >= 1"), 2, "num_inputs=0"),
    (KeyError("bug"), 1, "internal error"),
])
def test_the_boundary_turns_each_kind_of_failure_into_one_paragraph(fault, code, needle, monkeypatch, capsys):
    no_debug(monkeypatch)

    @cli_errors.reports_errors("ganalyze-x")
    def command(argv=None):
        raise fault

    with pytest.raises(SystemExit) as exit_:
        command([])
    assert exit_.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and needle in err


def test_ctrl_c_exits_130_and_debug_lets_the_traceback_through(monkeypatch, capsys):
    no_debug(monkeypatch)

    @cli_errors.reports_errors("ganalyze-x")
    def interrupted(argv=None):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_:
        interrupted([])
    assert exit_.value.code == 130 and "interrupted" in capsys.readouterr().err

    @cli_errors.reports_errors("ganalyze-x")
    def failing(argv=None):
        raise ConfigError("bad")

    argv = ["--debug"]
    with pytest.raises(ConfigError):  # --debug: the error itself, with its traceback
        failing(argv)
    assert argv == []  # the flag was taken out before the command parsed its arguments


# ---------------------------------------------------------------- bad values, refused before any work

@pytest.mark.parametrize("override, needle", [
    ("num_inputs=0", "num_inputs=0"), ("num_inputs=-3", "num_inputs=-3"), ("num_inputs=abc", "num_inputs='abc'"),
    ("temperature=nan", "temperature=nan"), ("temperature=-1", "temperature=-1"), ("threads=0", "threads=0"),
    ("seed=1.5", "seed=1.5"), ("num_samples=1000000000", "num_samples=1000000000"),
    ("num_inputs=1000000000", "needs at least"), ("inputs=[a.png,'']", "empty path"),
])
def test_ganalyze_project_refuses_bad_values_and_keeps_earlier_results(projected, override, needle, monkeypatch,
                                                                       capsys):
    before = snapshot(projected)
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={projected}", override)
    assert code == 2
    assert_one_paragraph(err, needle)
    assert snapshot(projected) == before


@pytest.mark.parametrize("override, needle", [
    ("autoencoder.train.steps=-1", "autoencoder.train.steps=-1"), ("flow.train.batch_size=0", "flow.train.batch_size=0"),
    ("data.held_out=-1", "data.held_out=-1"), ("data.per_set=1000000000", "needs at least"),
    ("autoencoder.train.lr=inf", "autoencoder.train.lr=inf"), ("resume=yes", "resume='yes'"),
    ("data.resolution=30", "data.resolution=30"), ("data.sets=[warm,zebra]", "zebra"), ("run_dir=", "run_dir is empty"),
])
def test_ganalyze_project_train_refuses_bad_values_before_rendering(override, needle, tmp_path, monkeypatch, capsys):
    args = ["logger=none", f"run_dir={tmp_path / 'run'}"] if not override.startswith("run_dir") else ["logger=none"]
    code, _, err = run_cli(project_cli.train_main, monkeypatch, capsys, *args, override)
    assert code == 2
    assert_one_paragraph(err, needle)
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("override, needle", [
    ("generator.steps=-1", "generator.steps=-1"), ("walk.lr=nan", "walk.lr=nan"), ("threads=0", "threads=0"),
    ("factors.size.alpha_star=-1", "alpha_star"), ("eval.num_seeds=abc", "eval.num_seeds='abc'"),
    ("eval.num_seeds=1000000000000", "needs at least"), ("generator.resolution=12", "power of two"),
    ("walk.transformer=curvy", "curvy"),
])
def test_ganalyze_steer_bias_refuses_bad_values_before_training(override, needle, tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(steer_bias_cli.main, monkeypatch, capsys, f"out_dir={tmp_path / 'bias'}", override)
    assert code == 2
    assert_one_paragraph(err, needle)
    assert not (tmp_path / "bias" / "generator").exists()


def test_output_paths_that_are_files_or_empty_are_refused_before_hydra_creates_them(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    for main, args in ((project_cli.main, [f"out_dir={a_file}"]), (project_cli.main, ["out_dir="]),
                       (project_cli.train_main, [f"run_dir={a_file}"]), (steer_bias_cli.main, [f"out_dir={a_file}"])):
        code, _, err = run_cli(main, monkeypatch, capsys, "logger=none", *args) if main is not steer_bias_cli.main \
            else run_cli(main, monkeypatch, capsys, *args)
        assert code == 2
        assert_one_paragraph(err)
    assert a_file.read_text() == "keep me"


def test_bench_refuses_a_folder_as_out_before_timing_anything(tmp_path, monkeypatch, capsys):
    from ganalyze import bench

    def never(*_):
        raise AssertionError("the benchmark ran before --out was checked")

    monkeypatch.setattr(bench, "run_job_in_subprocess", never)
    for args, needle in ((["--out", str(tmp_path)], "is a folder"), (["--threads", "0"], "--threads=0"),
                         (["--batches", "1000000000"], "needs at least")):
        code, _, err = run_cli(bench.main, monkeypatch, capsys, "--worlds", "tiny", "--devices", "cpu", *args)
        assert code == 2
        assert_one_paragraph(err, needle)


def test_quality_refuses_bad_numbers_and_a_file_as_out_dir(tmp_path, monkeypatch, capsys):
    from ganalyze.cli.quality import main

    (tmp_path / "f").write_text("x")
    for args, needle in ((["--threads", "0"], "--threads 0"), (["--num-samples", "1000000000"], "needs at least"),
                         (["--out-dir", str(tmp_path / "f")], "is a file"), (["--num-samples", "-5"], "-5")):
        code, _, err = run_cli(main, monkeypatch, capsys, *args)
        assert code == 2
        assert_one_paragraph(err, needle)


def test_nonlinear_transformer_refuses_zero_steps_with_the_setting_named():
    with pytest.raises(ConfigError, match=r"transformer.steps=0 .* e.g. transformer.steps=5"):
        NonlinearTransformer(dim_z=8, steps=0)
    with pytest.raises(ConfigError, match="init_std"):
        NonlinearTransformer(dim_z=8, init_std=float("nan"))


def test_memory_estimates_refuse_what_cannot_fit_and_pass_what_can():
    free = available_bytes("cpu")
    assert free is not None and free > 0
    assert check_fits(10, 32, "n=10") == 10 * 3 * 32 * 32 * 4 * 2
    with pytest.raises(ConfigError, match=r"--num-samples 10\*\*9 .* needs at least .* GiB"):
        check_fits(10**9, 128, "--num-samples 10**9")


# ---------------------------------------------------------------- faults while writing

def test_a_full_disk_mid_write_leaves_the_earlier_projection_whole(projected, monkeypatch, capsys):
    before = snapshot(projected)
    real_fsync, calls = os.fsync, []

    def fsync_then_full(fd):  # the second file of the set finds the disk full
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync_then_full)
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={projected}", "seed=5")
    assert code == 2
    assert_one_paragraph(err, "no space left")
    assert snapshot(projected) == before  # no file of the new set replaced an old one
    assert not [p for p in projected.rglob("*") if p.name.startswith(".")  and p.name != ".hydra"]


def test_a_read_only_output_folder_is_refused_before_any_work(projected, monkeypatch, capsys):
    before = snapshot(projected)
    import tempfile

    def refuse(*_, **__):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    monkeypatch.setattr(project_cli, "load_inputs", lambda *_: pytest.fail("worked before checking the folder"))
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={projected}", "seed=5")
    assert code == 2
    assert_one_paragraph(err, "Read-only file system")
    assert snapshot(projected) == before


def test_ctrl_c_while_writing_leaves_the_earlier_results_whole(projected, monkeypatch, capsys):
    before = snapshot(projected)

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(project_cli, "write_json", interrupted)
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={projected}", "seed=5")
    assert code == 130 and "Traceback" not in err
    assert snapshot(projected) == before


@pytest.fixture
def tmpfs(tmp_path):
    """A 128 KiB tmpfs (a real small disk), or a skip where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    close_log_files()
    subprocess.run(["umount", "-l", str(mount)], check=False)


def close_log_files() -> None:
    """Close the file handlers Hydra attached to the root logger."""
    import logging

    for handler in list(logging.root.handlers):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            logging.root.removeHandler(handler)


def test_a_real_full_disk_and_a_real_read_only_disk(tmpfs, monkeypatch, capsys):
    out = tmpfs / "out"
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={out}")
    assert code == 0, err
    before = snapshot(out)
    stats = os.statvfs(tmpfs)
    (tmpfs / "filler").write_bytes(b"0" * (stats.f_bavail * stats.f_frsize - 20 * 1024))  # leave 20 KiB
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={out}", "seed=5")
    assert code == 2
    assert_one_paragraph(err, "no space left")
    assert snapshot(out) == before
    (tmpfs / "filler").unlink()
    close_log_files()  # Hydra's job log stays open in-process; a file open for writing blocks the remount
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={out}", "seed=6")
    assert code == 2
    assert_one_paragraph(err, "Read-only")
    assert snapshot(out) == before


# ---------------------------------------------------------------- corrupted weights and odd images

def test_corrupted_projection_weights_are_one_paragraph(projected, tmp_path, monkeypatch, capsys):
    from ganalyze.projection.model import SHIPPED_FOLDER
    import shutil

    weights = tmp_path / "weights"
    shutil.copytree(SHIPPED_FOLDER, weights)
    model_file = weights / "flow" / "model.pt"
    model_file.write_bytes(model_file.read_bytes()[:1000])  # truncated
    before = snapshot(projected)
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={projected}",
                           f"weights={weights}")
    assert code == 2
    assert_one_paragraph(err, str(weights / "flow"))
    assert snapshot(projected) == before


def test_corrupted_generator_weights_for_the_quality_report(tmp_path, monkeypatch, capsys):
    from ganalyze.cli.quality import main
    from ganalyze.generators.shapes import ShapesGenerator

    folder = tmp_path / "gen"
    ShapesGenerator(dim_z=8, num_classes=6, resolution=16, width=4).save_pretrained(folder)
    (folder / "model.pt").write_bytes(b"not a torch file")
    code, _, err = run_cli(main, monkeypatch, capsys, "--generator-dir", str(folder), "--out-dir", str(tmp_path / "q"))
    assert code == 2
    assert_one_paragraph(err, "model.pt")


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width × height pixels and holds no image data (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("name, content, needle", [
    ("text.png", b"hello, not an image", "not an image"),
    ("empty.png", b"", "empty"),
    ("bomb.png", png_declaring(100_000, 100_000), "decompression bomb"),
    ("big.png", png_declaring(9000, 9000), "decompression bomb"),
    ("truncated.png", None, "truncated"),
    ("one.png", None, "1×1"),
])
def test_odd_images_are_refused_by_name(name, content, needle, tmp_path, projected, monkeypatch, capsys):
    path = tmp_path / name
    if name == "truncated.png":
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
        path.write_bytes(path.read_bytes()[:-300])
    elif name == "one.png":
        Image.new("RGB", (1, 1)).save(path)
    else:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=needle):
        read_rgb(path)
    before = snapshot(projected)
    code, _, err = run_cli(project_cli.main, monkeypatch, capsys, *PROJECT, f"out_dir={projected}", f"inputs={path}")
    assert code == 2
    assert_one_paragraph(err, name)
    assert snapshot(projected) == before


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "I;16", "CMYK", "1"])
def test_any_image_mode_becomes_rgb_and_transparency_becomes_white(mode, tmp_path):
    rgb = Image.fromarray(np.full((8, 8, 3), 128, dtype=np.uint8))
    image = rgb.convert(mode) if mode != "I;16" else Image.fromarray(np.full((8, 8), 4000, dtype=np.uint16))
    if mode in ("RGBA", "LA"):
        image.putalpha(0)
    path = tmp_path / f"x{'.tiff' if mode in ('I;16', 'CMYK') else '.png'}"
    image.save(path)
    tensor = load_image(path)
    assert tensor.shape == (3, 8, 8) and tensor.dtype == torch.float32 and 0 <= tensor.min() <= tensor.max() <= 1
    if mode in ("RGBA", "LA"):
        assert torch.all(tensor == 1.0)  # fully transparent pixels are white
