"""The logger adapter: wandb only through ganalyze/logger.py, offline without a key, no hang without network."""

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ganalyze
from ganalyze.logger import NullLogger, WandbLogger, wandb_key_configured

PACKAGE = Path(ganalyze.__file__).resolve().parent


@pytest.fixture
def no_wandb_credentials(monkeypatch, tmp_path):
    for var in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    return tmp_path


def test_only_the_logger_module_imports_wandb_and_only_when_used():
    sources = {p.relative_to(PACKAGE).as_posix(): p.read_text() for p in PACKAGE.rglob("*.py")}
    importers = sorted(name for name, text in sources.items() if re.search(r"^\s*(import|from) wandb\b", text, re.M))
    top_level = sorted(name for name, text in sources.items() if re.search(r"^(import|from) wandb\b", text, re.M))
    assert importers == ["logger.py"] and top_level == []  # imported inside WandbLogger: logger=none never loads it


def test_key_detection_from_environment_or_netrc(no_wandb_credentials, monkeypatch):
    assert not wandb_key_configured()
    netrc = no_wandb_credentials / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert wandb_key_configured()
    monkeypatch.setenv("NETRC", str(no_wandb_credentials / "no-netrc"))
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert wandb_key_configured()


def test_null_logger_accepts_everything_and_writes_nothing(tmp_path):
    logger = NullLogger(run_dir=tmp_path, name="x")
    logger.log_metrics({"a": 1.0}, step=0)
    logger.log_images({"i": Image.new("RGB", (4, 4))})
    logger.log_table("t", ["a"], [[1]])
    logger.finish()
    assert list(tmp_path.iterdir()) == []


def log_everything(logger):
    logger.log_metrics({"train/loss": 0.5}, step=0)
    logger.log_images({"grid": Image.fromarray(np.zeros((8, 8, 3), np.uint8))})
    logger.log_table("samples", ["seed", "image"], [[1, Image.new("RGB", (8, 8))]])
    logger.finish()


def test_without_a_key_wandb_runs_offline_into_the_run_folder(no_wandb_credentials):
    run_dir = no_wandb_credentials / "run"
    logger = WandbLogger(run_dir, name="test", run_config={"seed": 0})
    assert logger.run is not None and logger.run.settings.mode == "offline"
    log_everything(logger)
    offline = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].rglob("*.table.json"))
    records = next(offline[0].glob("*.wandb"))
    deadline = time.monotonic() + 20  # wandb's writer process may still be flushing after finish()
    while b"samples" not in records.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(key in records.read_bytes() for key in (b"train/loss", b"grid", b"samples"))


def test_a_key_without_network_falls_back_to_offline_quickly(no_wandb_credentials, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens there: connection refused
    start = time.monotonic()
    logger = WandbLogger(no_wandb_credentials / "run", init_timeout=2)
    assert time.monotonic() - start < 30
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ganalyze: wandb")]
    assert len(said) == 1 and "could not start in online mode" in said[0] and "logging offline" in said[0]
    assert logger.run is not None and logger.run.settings.mode == "offline"
    log_everything(logger)
