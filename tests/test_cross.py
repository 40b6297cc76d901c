"""ganalyze-cross: each image generated once per direction and scored by every assessor; entries equal what the
single-assessor evaluation measures; the diagonal reads 1; intervals, random row, files; mixed generators refused;
the shapes world's true factors and class preservation as columns."""

import json
import shutil
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

import ganalyze.cross as cross
from assessors import create_assessor
from ganalyze.cli import cross as cross_cli
from ganalyze.cli import train as train_cli
from ganalyze.errors import ConfigError
from ganalyze.evaluation import EvalSettings, evaluate
from ganalyze.transformers import load_transformer

TRAIN = ["logger=none", "train.batch_size=2", "train.steps=2", "eval.enabled=false"]
SETTINGS = cross.CrossSettings(num_seeds=6, num_alphas=5, bootstrap=4, random=2)


def train(monkeypatch, run_dir, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", ["ganalyze-train", *TRAIN, f"run_dir={run_dir}", *args])
    train_cli.main()


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """Two directions on a random tiny BigGAN (brightness, colourfulness)."""
    root = tmp_path_factory.mktemp("cross")
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in ("brightness", "colourfulness"):
            train(monkeypatch, root / name, "generator=tiny_biggan", f"assessor={name}")
    return root


def test_each_image_is_generated_once_and_entries_match_the_evaluation(tiny_runs, monkeypatch):
    calls = []
    building = cross.build_generator

    def counting(node):
        generator = building(node)
        generator.register_forward_hook(lambda *_: calls.append(1))
        return generator

    monkeypatch.setattr(cross, "build_generator", counting)
    folders = [tiny_runs / "brightness", tiny_runs / "colourfulness"]
    report = cross.cross_matrix(folders, SETTINGS)
    grid = 5  # alpha_grid(±0.02, 1, 5): the 5 grid values (a, b, 0 among them)
    assert len(calls) == (2 + SETTINGS.random) * grid  # one batch per α per direction, not one per assessor
    assert [c["label"] for c in report["columns"]] == ["brightness", "colourfulness"]  # no true factors off the world
    generator = building(OmegaConf.to_container(OmegaConf.load(tiny_runs / "brightness" / "config.yaml").generator))
    for row, folder in zip(report["rows"], folders):
        transformer = load_transformer(folder / "transformer")
        for name in ("brightness", "colourfulness"):
            expected = evaluate(generator, transformer, create_assessor(name), (-0.02, 0.02),
                                EvalSettings(num_seeds=6, alpha_scale=1.0, num_alphas=5, world=False))
            entry = row["entries"][f"assessor:{name}"]
            assert entry["spearman"] == pytest.approx(expected.metrics["trained"]["score"]["spearman"], abs=1e-9)
            assert entry["slope"] == pytest.approx(expected.metrics["trained"]["score"]["slope"], rel=1e-6)
            assert entry["spearman_ci"][0] <= entry["spearman_ci"][1]
        assert row["step_per_alpha"] == pytest.approx(float(transformer.theta.norm()), rel=1e-5)
    assert report["rows"][0]["entries"]["assessor:brightness"]["normalised_slope"] == pytest.approx(1.0)
    assert report["rows"][1]["entries"]["assessor:colourfulness"]["normalised_slope"] == pytest.approx(1.0)
    off = report["rows"][0]["entries"]["assessor:colourfulness"]
    steps = [r["step_per_alpha"] for r in report["rows"]]
    own = report["rows"][1]["entries"]["assessor:colourfulness"]["slope"]
    assert off["normalised_slope"] == pytest.approx(off["slope"] / steps[0] / (own / steps[1]))
    random = report["random"]["summary"]["assessor:brightness"]
    assert len(random["spearman_draws"]) == 2
    assert random["abs_spearman_mean"] == pytest.approx(np.abs(random["spearman_draws"]).mean())


def test_the_command_writes_json_csv_and_heat_map_and_refuses_mixed_generators(tiny_runs, tmp_path, monkeypatch,
                                                                               capsys):
    out = tmp_path / "report"
    monkeypatch.setattr(sys, "argv", ["ganalyze-cross", str(tiny_runs / "brightness"), str(tiny_runs / "colourfulness"),
                                      f"out={out}", "num_seeds=4", "num_alphas=3", "bootstrap=3", "random=1"])
    cross_cli.main()
    assert "cross matrix written to" in capsys.readouterr().out
    report = json.loads((out / "cross.json").read_text())
    assert report["generator"] == "tiny_biggan" and report["num_seeds"] == 4
    assert len((out / "cross.csv").read_text().splitlines()) == 1 + 2 * 2 + 2  # header, 2 runs x 2 columns, random
    assert (out / "cross_matrix.png").read_bytes()[:4] == b"\x89PNG"

    other = tmp_path / "other"
    shutil.copytree(tiny_runs / "brightness", other)
    config = OmegaConf.load(other / "config.yaml")
    config.generator.init_seed = 1  # the same architecture, another random network: another latent space
    (other / "config.yaml").write_text(OmegaConf.to_yaml(config))
    monkeypatch.setattr(sys, "argv", ["ganalyze-cross", str(tiny_runs / "brightness"), str(other), f"out={out}"])
    with pytest.raises(SystemExit) as exit_:
        cross_cli.main()
    assert exit_.value.code == 2 and "different generators" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="at least two run folders"):
        cross.cross_matrix([tiny_runs / "brightness"], SETTINGS)
    with pytest.raises(ConfigError, match="not a finished run folder"):
        cross.cross_matrix([tiny_runs / "brightness", tmp_path], SETTINGS)


def test_on_the_shapes_world_true_factors_and_class_kept_are_measured(tmp_path, monkeypatch):
    """Shapes runs get the true factors as columns and class preservation per row; a shared assessor is one column."""
    for name, extra in (("size", ["assessor=shapes_size"]), ("bright", ["assessor=brightness"]),
                        ("bright_hold", ["assessor=brightness", "objective=hold"])):
        train(monkeypatch, tmp_path / name, *extra)
    report = cross.cross_matrix([tmp_path / n for n in ("size", "bright", "bright_hold")],
                                cross.CrossSettings(num_seeds=4, num_alphas=3, bootstrap=2, random=1))
    keys = [c["key"] for c in report["columns"]]
    assert keys[:2] == ["assessor:shapes_size", "assessor:brightness"]
    assert {"true:size", "true:hue", "true:obj_brightness"} <= set(keys)
    assert [r["assessor"] for r in report["rows"]] == ["assessor:shapes_size", "assessor:brightness",
                                                       "assessor:brightness"]
    assert all(0.0 <= r["class"]["preserved_at_high"] <= 1.0 for r in report["rows"])
    assert next(c for c in report["columns"] if c["key"] == "assessor:brightness")["reference_run"] == "bright"


@pytest.mark.parametrize(("setting", "message"), [
    ({"num_seeds": 1}, "num_seeds=1 must be a whole number >= 2"),
    ({"bootstrap": 0}, "bootstrap=0 must be a positive whole number"),
    ({"random": -1}, "random=-1 must be a whole number >= 0"),
    ({"num_alphas": 2.5}, "num_alphas=2.5 must be a positive whole number"),
    ({"alpha_scale": 0.5}, "alpha_scale=0.5 must be >= 1"),
])
def test_bad_cross_settings_name_the_value(setting: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        cross.CrossSettings(**setting)
