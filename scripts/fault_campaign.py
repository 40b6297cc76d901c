"""Run bad values and faults over the command-line tools as a user would, and classify every outcome.

    python scripts/fault_campaign.py --work /tmp/campaign [--only project,quality] [--timeout 180]

Each case is one console-script call in a subprocess under a timeout. Outcomes:
  clean      exit != 0, no traceback, a one-paragraph error (``<prog>: error: ...`` or Hydra's own override error)
  ok         exit 0 where success is right (a valid odd input), and earlier results untouched where they must be
  traceback  a Python traceback reached the user
  bug        the boundary's "internal error" (an unexpected exception, shown without traceback)
  accepted   exit 0 (or still running at the timeout) for a value or fault that must be refused
  damaged    an earlier result changed although the command failed
Writes <work>/campaign.json (every case with its outcome and the last lines of its output) and prints the counts.
Faults on a real small disk (a full 128 KiB tmpfs, a read-only one) need root and mount; without them those cases
are skipped and counted as such.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ganalyze.atomic import write_json

BIN = Path(sys.executable).parent
TINY_TRAIN = ["generator=tiny_biggan", "assessor=brightness", "logger=none", "train.batch_size=2", "train.steps=2",
              "eval.num_seeds=4", "eval.num_alphas=3", "eval.grid_seeds=2"]
PROJECT = ["logger=none", "num_inputs=2", "num_samples=2"]


@dataclass
class Case:
    """One call: the tool, its arguments, whether it must fail, and the folder whose earlier results must survive."""

    tool: str
    args: list[str]
    must_fail: bool = True
    keep: Path | None = None
    setup: Callable[[], bool] | None = None  # returns False to skip the case
    teardown: Callable[[], None] | None = None
    note: str = ""
    outcome: dict = field(default_factory=dict)


def snapshot(folder: Path | None) -> dict[str, str]:
    """Files under ``folder`` (not Hydra's records or logs) with their size and mtime, to detect any change."""
    if folder is None or not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): f"{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(folder.rglob("*"))
            if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log" and "wandb" not in p.parts}


def classify(case: Case, code: int | None, output: str, changed: bool) -> str:
    """The outcome of a finished (or timed-out, code None) call."""
    if "Traceback (most recent call last)" in output:
        return "traceback"
    if code is not None and code != 0 and changed:
        return "damaged"
    if code is None:
        return "accepted" if case.must_fail else "timeout"
    if code == 0:
        return "accepted" if case.must_fail else ("damaged" if changed else "ok")
    if "internal error" in output:
        return "bug"
    return "clean" if case.must_fail else "refused-valid"


def run_case(case: Case, env: dict[str, str], timeout: float, cwd: Path) -> dict:
    """Run one case and return its record."""
    if case.setup is not None and not case.setup():
        return {"tool": case.tool, "args": case.args, "note": case.note, "outcome": "skipped"}
    before = snapshot(case.keep)
    start = time.monotonic()
    proc = subprocess.Popen([str(BIN / case.tool), *case.args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, cwd=cwd, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        output, _ = proc.communicate()
        code = None
    changed = case.keep is not None and snapshot(case.keep) != before
    if case.teardown is not None:
        case.teardown()
    outcome = classify(case, code, output, changed)
    return {"tool": case.tool, "args": case.args, "note": case.note, "outcome": outcome, "exit": code,
            "seconds": round(time.monotonic() - start, 1), "tail": output.strip().splitlines()[-3:],
            "message": next((line for line in output.splitlines() if "error:" in line or "Error" in line), "")}


# ---------------------------------------------------------------- fixtures a user would have

def png_declaring(width: int, height: int) -> bytes:
    """A PNG header declaring width × height pixels and no data (the shape of a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


class Evil:
    """A pickle that would create a marker file if any loader ran it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def make_fixtures(work: Path, env: dict[str, str]) -> dict[str, Path]:
    """Images, a finished tiny training run, earlier results, corrupted weights, a file where a folder belongs."""
    import numpy as np
    from PIL import Image

    from ganalyze.projection.model import SHIPPED_FOLDER

    images = work / "images"
    images.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(images / "ok.png")
    (images / "text.png").write_text("this is not an image\n")
    (images / "empty.png").write_bytes(b"")
    (images / "truncated.png").write_bytes((images / "ok.png").read_bytes()[:-400])
    (images / "bomb.png").write_bytes(png_declaring(100_000, 100_000))
    (images / "big.png").write_bytes(png_declaring(9000, 9000))
    Image.new("RGB", (1, 1)).save(images / "one.png")
    Image.new("RGBA", (32, 32), (255, 0, 0, 0)).save(images / "rgba.png")
    Image.fromarray(np.full((32, 32), 3000, dtype=np.uint16)).save(images / "grey16.png")
    Image.new("P", (32, 32)).save(images / "palette.png")
    folders = work / "folders"
    for name, files in (("a", ["ok.png"]), ("b", ["ok.png", "text.png"])):
        (folders / name).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(images / f, folders / name / f)
    a_file = work / "a_file"
    a_file.write_text("a file where a folder belongs\n")
    run = work / "run"
    if not (run / "transformer").is_dir():
        subprocess.run([str(BIN / "ganalyze-train"), *TINY_TRAIN, f"run_dir={run}"], env=env, check=True,
                       capture_output=True)
    bad_run = work / "bad_run"
    shutil.rmtree(bad_run, ignore_errors=True)
    shutil.copytree(run, bad_run)
    (bad_run / "transformer" / "model.pt").write_bytes(b"garbage")
    projected = work / "projected"
    subprocess.run([str(BIN / "ganalyze-project"), *PROJECT, f"out_dir={projected}"], env=env, check=True,
                   capture_output=True)
    weights = work / "bad_weights"
    shutil.rmtree(weights, ignore_errors=True)
    shutil.copytree(SHIPPED_FOLDER, weights)
    (weights / "flow" / "model.pt").write_bytes((weights / "flow" / "model.pt").read_bytes()[:2000])
    evil = work / "evil_weights"
    shutil.rmtree(evil, ignore_errors=True)
    shutil.copytree(SHIPPED_FOLDER, evil)
    with open(evil / "autoencoder" / "model.pt", "wb") as handle:
        pickle.dump(Evil(work / "PWNED"), handle)
    gen = work / "bad_generator"
    gen.mkdir(exist_ok=True)
    (gen / "config.json").write_text("{}")
    (gen / "model.pt").write_bytes(b"not torch")
    return {"images": images, "folders": folders, "a_file": a_file, "run": run, "bad_run": bad_run,
            "projected": projected, "bad_weights": weights, "evil": evil, "bad_generator": gen}


class SmallDisk:
    """A 128 KiB tmpfs: filled to leave a few KiB (a full disk) or remounted read-only."""

    def __init__(self, mount: Path):
        self.mount = mount

    def up(self) -> bool:
        self.mount.mkdir(parents=True, exist_ok=True)
        return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(self.mount)],
                              capture_output=True).returncode == 0

    def down(self) -> None:
        subprocess.run(["umount", "-l", str(self.mount)], capture_output=True)

    def full_with(self, source: Path, leave_kib: int = 20) -> Callable[[], bool]:
        """Setup: copy ``source`` onto the disk, then fill it to leave ``leave_kib`` KiB (20: enough to start, not
        to finish)."""
        def setup() -> bool:
            if not self.up():
                return False
            shutil.copytree(source, self.mount / "out")
            stats = os.statvfs(self.mount)
            (self.mount / "filler").write_bytes(b"0" * max(0, stats.f_bavail * stats.f_frsize - leave_kib * 1024))
            return True
        return setup

    def read_only_with(self, source: Path) -> Callable[[], bool]:
        """Setup: copy ``source`` onto the disk and remount it read-only."""
        def setup() -> bool:
            if not self.up():
                return False
            shutil.copytree(source, self.mount / "out")
            return subprocess.run(["mount", "-o", "remount,ro", str(self.mount)], capture_output=True).returncode == 0
        return setup


def cases(fx: dict[str, Path], work: Path) -> list[Case]:
    """The campaign: bad values per setting kind, sizes that cannot fit, paths, odd files, faults."""
    img, run, projected, a_file = fx["images"], fx["run"], fx["projected"], fx["a_file"]
    disk = SmallDisk(work / "disk")
    out = work / "scratch"
    fresh = iter(range(10**6))  # "{n}" in an argument becomes a new number per case: every run gets its own folder

    def bad(tool: str, base: list[str], values: list[str], keep: Path | None = None) -> list[Case]:
        return [Case(tool, [a.replace("{n}", str(next(fresh))) for a in [*base, *v.split(" ")]], keep=keep)
                for v in values]

    found: list[Case] = []
    # ganalyze-project: numbers, sizes, paths, images
    found += bad("ganalyze-project", [*PROJECT, f"out_dir={projected}"],
                 ["num_inputs=0", "num_inputs=-3", "num_inputs=abc", "temperature=nan", "temperature=-1",
                  "temperature=inf", "threads=0", "threads=abc", "seed=1.5", "seed=-1", "num_samples=0",
                  "num_samples=1000000000", "num_inputs=1000000000", "source=zebra", "numinputs=3",
                  f"weights={a_file}", f"weights={fx['bad_weights']}", f"weights={fx['evil']}", "inputs=[]",
                  *(f"inputs={img / n}" for n in ("text.png", "empty.png", "truncated.png", "bomb.png", "big.png",
                                                   "one.png", "missing.png")), f"inputs={img}"], keep=projected)
    found += bad("ganalyze-project", PROJECT, [f"out_dir={a_file}", "out_dir="])
    found += [Case("ganalyze-project", [*PROJECT, f"out_dir={out}/p_{n}", f"inputs={img / n}"], must_fail=False)
              for n in ("rgba.png", "grey16.png", "palette.png", "ok.png")]
    # ganalyze-project-train
    found += bad("ganalyze-project-train", ["logger=none", f"run_dir={out}/pt{{n}}"],
                 ["autoencoder.train.steps=-1", "flow.train.batch_size=0", "data.held_out=-1", "data.held_out=0",
                  "data.per_set=1000000000", "data.per_set=abc", "autoencoder.train.lr=nan", "flow.train.lr=-1",
                  "data.resolution=30", "flow.model.kernel_size=2", "data.sets=[]", "data.sets=[warm,zebra]",
                  "sample_temperature=inf", "resume=yes", "threads=0", "autoencoder.model.width=0",
                  f"data.source={work / 'missing'}", f"data.source={fx['folders']}", "data.source=world data.sets=5"])
    found += bad("ganalyze-project-train", ["logger=none"], [f"run_dir={a_file}", "run_dir="])
    # ganalyze-quality
    found += bad("ganalyze-quality", ["--out-dir", f"{out}/q{{n}}"],
                 ["--threads=0", "--threads=-1", "--num-samples=0", "--num-samples=-5", "--num-samples=1000000000",
                  "--num-samples=abc", "--seed=-1", "--variant=zebra", f"--generator-dir={a_file}",
                  f"--generator-dir={fx['bad_generator']}", f"--classifier-dir={fx['bad_generator']}"])
    found += bad("ganalyze-quality", ["--num-samples", "60"], [f"--out-dir={a_file}", "--out-dir="])
    # ganalyze-bench
    found += bad("ganalyze-bench", ["--worlds", "tiny", "--devices", "cpu", "--steps", "1", "--out", str(out / "b.json")],
                 ["--threads=0", "--steps=0", "--batches=0", "--batches=abc", "--batches=1000000000",
                  "--matmul-size=-5", "--worlds=zebra", "--devices=tpu", "--variant=nonsense"])
    found += bad("ganalyze-bench", ["--worlds", "tiny", "--devices", "cpu", "--steps", "1"],
                 [f"--out={work}", "--out=", f"--out={a_file}/x.json"])
    # ganalyze-steer-bias
    found += bad("ganalyze-steer-bias", [f"out_dir={out}/sb{{n}}"],
                 ["generator.steps=-1", "generator.steps=0", "generator.batch_size=0", "generator.resolution=12",
                  "generator.fit_samples=1000000000", "walk.steps=0", "walk.lr=nan", "walk.lr=-1", "walk.transformer=x",
                  "eval.num_seeds=abc", "eval.num_seeds=1000000000000", "eval.batch_size=0", "threads=0", "seed=1.5",
                  "factors.size.alpha_star=-1", "factors.size.alpha_star=nan", "factors.size.edit=melt",
                  "factors.size.datasets=[broad]", "factors.size.datasets=[broad,zebra,warm]", "factors=5"])
    found += bad("ganalyze-steer-bias", [], [f"out_dir={a_file}", "out_dir="])
    # ganalyze-factors
    found += bad("ganalyze-factors", [f"run_dir={run}", "logger=none"],
                 ["eval.num_seeds=abc", "eval.num_seeds=0", "eval.num_seeds=1000000000000", "eval.batch_size=1000000000",
                  "eval.alpha_scale=nan", "threads=0"], keep=run / "eval")
    found += bad("ganalyze-factors", ["logger=none"], [f"run_dir={a_file}", "run_dir=", f"run_dir={fx['bad_run']}"])
    # ganalyze-train and ganalyze-eval (owned by the API work; here so one campaign covers every tool)
    found += bad("ganalyze-train", [*TINY_TRAIN, f"run_dir={out}/t{{n}}"],
                 ["train.steps=nan", "train.steps=inf", "train.batch_size=nan", "train.batch_size=1000000000",
                  "train.lr=1e30", "train.alpha_range=[-1e30,1e30]", "seed=1.5", "eval.grid_seeds=-1", "train=5",
                  "eval=null", "generator.architecture.z_dim=-1", "transformer=nonlinear transformer.steps=0"])
    found += bad("ganalyze-train", TINY_TRAIN, [f"run_dir={a_file}", "run_dir="])
    found += bad("ganalyze-eval", [f"run_dir={run}", "logger=none"],
                 ["eval.num_seeds=abc", "eval.alpha_scale=nan", "eval.alpha_scale=inf", "eval.num_seeds=1000000000",
                  "eval.numseeds=10", "eval.grid_classes=[99]"], keep=run / "eval")
    # faults on a real small disk (root only)
    for tool, base, leave in (("ganalyze-project", PROJECT, 20), ("ganalyze-steer-bias", [], 4)):
        target = f"out_dir={disk.mount / 'out'}"
        found.append(Case(tool, [*base, target], keep=disk.mount / "out", setup=disk.full_with(projected, leave),
                          teardown=disk.down, note="full disk"))
        found.append(Case(tool, [*base, target], keep=disk.mount / "out", setup=disk.read_only_with(projected),
                          teardown=disk.down, note="read-only disk"))
    found.append(Case("ganalyze-quality", ["--num-samples", "60", "--out-dir", str(disk.mount / "out")],
                      keep=disk.mount / "out", setup=disk.full_with(projected), teardown=disk.down, note="full disk"))
    found.append(Case("ganalyze-eval", [f"run_dir={disk.mount / 'out'}", "logger=none"], keep=disk.mount / "out",
                      setup=disk.read_only_with(run), teardown=disk.down, note="read-only run folder"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("runs/fault_campaign"))
    parser.add_argument("--only", default=None, help="comma-separated tool names without 'ganalyze-' (default all)")
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    env.pop("HYDRA_FULL_ERROR", None)
    fx = make_fixtures(args.work, env)
    chosen = [c for c in cases(fx, args.work)
              if args.only is None or c.tool.removeprefix("ganalyze-") in args.only.split(",")]
    records = []
    for i, case in enumerate(chosen):
        record = run_case(case, env, args.timeout, args.work)
        records.append(record)
        print(f"[{i + 1}/{len(chosen)}] {record['outcome']:>9}  {case.tool} {' '.join(case.args[-1:])} {case.note}",
              flush=True)
    if (args.work / "PWNED").exists():
        records.append({"tool": "*", "args": [], "note": "a pickle ran code", "outcome": "damaged"})
    counts: dict[str, int] = {}
    for record in records:
        counts[record["outcome"]] = counts.get(record["outcome"], 0) + 1
    by_tool: dict[str, dict[str, int]] = {}
    for record in records:
        tool = by_tool.setdefault(record["tool"], {})
        tool[record["outcome"]] = tool.get(record["outcome"], 0) + 1
    write_json(args.work / "campaign.json", {"counts": counts, "by_tool": by_tool, "cases": records})
    print(json.dumps(counts))
    print(json.dumps(by_tool, indent=1))
    for record in records:
        if record["outcome"] not in ("clean", "ok", "skipped"):
            print(f"  {record['outcome']}: {record['tool']} {' '.join(record['args'][-2:])}  -> "
                  f"{record.get('message') or record.get('tail')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
