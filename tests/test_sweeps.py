"""Sweeps on a scheduler: `ganalyze-train -m hydra/launcher=submitit_local assessor=shapes_size,brightness` runs
two jobs through submitit (the code path of submitit_slurm, each job its own process) and both run folders
complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml


def test_a_two_job_sweep_runs_through_submitit(tmp_path):
    script = Path(sys.executable).with_name("ganalyze-train")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ganalyze.cli.train"]
    sweep = tmp_path / "sweep"
    result = subprocess.run(
        command + ["-m", "hydra/launcher=submitit_local", "assessor=shapes_size,brightness", "generator=tiny_biggan",
                   "logger=none", "train.steps=2", "train.batch_size=2", "eval.enabled=false",
                   "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=10", f"run_dir={sweep}"],
        cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"},
        capture_output=True, text=True, timeout=500,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Submitit 'local' sweep output dir" in result.stdout + result.stderr
    names = {}
    for job in ("0", "1"):
        run = sweep / job
        names[yaml.safe_load((run / "config.yaml").read_text())["assessor"]["name"]] = run
        assert (run / "transformer" / "model.pt").is_file()
        assert len((run / "train_loss.csv").read_text().strip().splitlines()) == 1 + 2  # header + one row per step
    assert set(names) == {"shapes_size", "brightness"}
    logs = sorted((sweep / ".submitit").glob("*/*_0_log.out"))  # one submitit job folder per job, named by its id
    assert len(logs) == 2 and all("Job completed successfully" in log.read_text() for log in logs)
    assert {f"Run folder: {run}" for run in names.values()} == {
        next(line for line in log.read_text().splitlines() if line.startswith("Run folder")) for log in logs}
