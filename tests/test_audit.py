"""ganalyze.audit: each audit against a planted answer, user folders and CSV files, and bad inputs."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganalyze.audit import (ClassifierSettings, DisparitySettings, ImageSet, disparity, from_csv, from_folder,
                            gender_shades_table, inclusiveness, load_sources, name_that_dataset)
from ganalyze.audit.inclusiveness import precision_recall
from ganalyze.audit.intervals import binomial_interval, permutation_p_value
from ganalyze.errors import ConfigError
from ganalyze.world import load_variant, measure

FAST = ClassifierSettings(hidden=32, steps=150)


def save_pngs(folder, images: torch.Tensor) -> None:
    """Write images (n, 3, H, W) in [0, 1] as PNG files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(folder / f"img{i:03d}.png")


@pytest.fixture()
def photo_folder(tmp_path):
    """A user folder: warm/ and cool/ subfolders of 12 world images each."""
    for name in ("warm", "cool"):
        save_pngs(tmp_path / "photos" / name, load_variant(name).sample(12, seed=3)[0])
    return tmp_path / "photos"


class MeasuredSize(torch.nn.Module):
    """A test assessor: the size measured from pixels, plus noise of σ ``noise`` (the same for every hue), plus
    ``bias`` for objects with hue below 60 degrees."""

    def __init__(self, bias: float = 0.0, noise: float = 0.01):
        super().__init__()
        self.bias, self.noise, self.calls = bias, noise, 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        m = measure(images)
        self.calls += 1
        noise = torch.randn(len(images), generator=torch.Generator().manual_seed(self.calls)) * self.noise
        return m["size"] + noise + self.bias * (m["hue"] < 60).float()


def test_binomial_interval_and_permutation_test_behave():
    low, high = binomial_interval(50, 100)
    assert low < 0.5 < high and high - low < 0.25
    rng = np.random.default_rng(0)
    gap = lambda g: max(x.mean() for x in g) - min(x.mean() for x in g)  # noqa: E731
    same = [rng.normal(size=200), rng.normal(size=200)]
    apart = [rng.normal(size=200), rng.normal(size=200) + 1.0]
    assert permutation_p_value(same, gap, 200, rng) > 0.05
    assert permutation_p_value(apart, gap, 200, rng) < 0.01


def test_name_that_dataset_is_at_chance_on_identical_variants_and_above_on_different_ones():
    same = name_that_dataset(load_sources(["broad", "broad"], n=200, seed=0), FAST)
    assert same["groups"] == ["broad", "broad#2"]  # the repeat drew other images of the same law
    assert same["chance"] == 0.5 and same["at_chance"], same["interval"]
    apart = name_that_dataset(load_sources(["warm", "cool", "centered"], n=200, seed=0), FAST)
    assert apart["above_chance"] and apart["accuracy"] > 0.7  # chance is 1/3
    assert apart["factor_ranking"][0] == "hue"  # warm vs cool differ in hue above all
    assert np.asarray(apart["confusion"]).sum() == apart["n_test"]


def test_disparity_finds_a_planted_gap_and_none_where_there_is_none():
    sets = load_sources(["broad"], n=900, seed=1)
    settings = DisparitySettings(group_by="hue", truth="size", threshold=0.125, resamples=300, permutations=300)
    biased = disparity(sets, MeasuredSize(bias=0.05), settings, assessor_name="biased")
    gap = biased["largest_gap"]
    assert gap["highest"] == "red-yellow" and gap["excludes_zero"] and gap["interval"][0] > 0.04
    assert not biased["independence"]["passes_80_percent_rule"]
    assert biased["independence"]["highest"] == "red-yellow"
    assert biased["separation"]["fpr_gap"]["highest"] == "red-yellow"
    fair = disparity(sets, MeasuredSize(), settings, assessor_name="fair")
    assert not fair["largest_gap"]["excludes_zero"], fair["largest_gap"]
    assert fair["independence"]["passes_80_percent_rule"]
    table = gender_shades_table(biased)
    assert table.startswith("| biased | All | red-yellow |") and "80% rule: FAILS" in table


def test_inclusiveness_sees_a_dropped_class_and_a_faithful_sample():
    data = ImageSet("broad", load_variant("broad").sample(600, seed=5)[0])
    images, factors = load_variant("broad").sample(600, seed=6)
    faithful = inclusiveness(data, ImageSet("other seeds", images))
    no_stars = inclusiveness(data, ImageSet("no stars", images[factors.class_id != 4]))
    rows = {r["value"]: r for r in no_stars["attributes"] if r["attribute"] == "class"}
    assert rows["star"]["generated_rate"] < 0.01 and rows["star"]["recall"] < 0.05
    assert rows["star"]["data_rate"] > 0.1
    assert all(r["recall"] > 0.6 for r in faithful["attributes"] if r["attribute"] == "class")
    assert no_stars["mode_coverage"]["per_class"]["star"]["covered"] == 0
    assert faithful["mode_coverage"]["covered"] > 0.9 * faithful["mode_coverage"]["modes"]


def test_knn_precision_recall_on_known_sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 4))
    same = precision_recall(real, real.copy(), k=3)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    far = precision_recall(real, real + 100.0, k=3)
    assert far["precision"] == 0.0 and far["recall"] == 0.0
    half = precision_recall(real, real[:100] * 0.1, k=3)  # a collapsed generator: precise, low recall
    assert half["precision"] > 0.9 and half["recall"] < 0.5


def test_folders_and_csv_become_groups(photo_folder, tmp_path):
    sets = from_folder(photo_folder, resolution=32)
    assert [s.name for s in sets] == ["cool", "warm"] and all(s.images.shape == (12, 3, 32, 32) for s in sets)
    rows = ["image,group,score"] + [f"photos/{g}/img{i:03d}.png,{g},{i}" for g in ("warm", "cool") for i in range(12)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    csv_sets = from_csv(tmp_path / "labels.csv")
    assert [s.name for s in csv_sets] == ["cool", "warm"] and list(csv_sets[0].labels["score"][:3]) == [0.0, 1.0, 2.0]
    result = name_that_dataset(sets, FAST)
    assert result["groups"] == ["cool", "warm"] and result["n_test"] == 12
    by_source = disparity(sets, MeasuredSize(), DisparitySettings(group_by="source", resamples=50, permutations=50))
    assert by_source["groups"] == ["cool", "warm"] and by_source["headline_metric"] == "mean_score"
    with_truth = disparity(csv_sets, MeasuredSize(), DisparitySettings(group_by="source", truth="score", threshold=5.5,
                                                                       resamples=50, permutations=50))
    assert with_truth["per_group"]["warm"]["tpr"] == 0.0  # sizes (< 1) never exceed 5.5; half the truths do
    assert with_truth["per_group"]["warm"]["mae"] > 4


@pytest.mark.parametrize("problem, match", [
    ("empty", "is empty"), ("one", "holds 1 image"), ("not_image", "notes.txt is not an image"),
    ("one_group", "has 1 subfolder"),
])
def test_bad_folders_fail_with_one_paragraph(photo_folder, problem, match):
    if problem == "empty":
        (photo_folder / "blue").mkdir()
    elif problem == "one":
        save_pngs(photo_folder / "blue", load_variant("cool").sample(1, seed=0)[0])
    elif problem == "not_image":
        (photo_folder / "warm" / "notes.txt").write_text("not a picture")
    else:
        for f in (photo_folder / "cool").iterdir():
            f.unlink()
        (photo_folder / "cool").rmdir()
    with pytest.raises(ConfigError, match=match) as err:
        from_folder(photo_folder)
    assert "\n" not in str(err.value)


def test_bad_sources_and_settings_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="unknown source 'zip:x'"):
        load_sources(["zip:x"], n=4, seed=0)
    with pytest.raises(ConfigError, match="needs columns 'image' and 'group'"):
        (tmp_path / "bad.csv").write_text("path,label\na.png,x\n")
        from_csv(tmp_path / "bad.csv")
    with pytest.raises(ConfigError, match="at least two groups"):
        name_that_dataset(load_sources(["broad"], n=10, seed=0), FAST)
    with pytest.raises(ConfigError, match="fewer than 2 images"):
        disparity(load_sources(["warm"], n=20, seed=0), MeasuredSize(), DisparitySettings(group_by="hue"))


class RecordingLogger:
    """Collects what an audit logs."""

    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step=None):
        self.calls.append(("metrics", dict(metrics)))

    def log_images(self, images, step=None):
        self.calls.append(("images", dict(images)))

    def log_table(self, key, columns, rows):
        self.calls.append(("table", key, list(columns), list(rows)))


def test_run_audit_logs_numbers_plot_and_table(photo_folder, tmp_path):
    from ganalyze.audit import run_audit

    logger = RecordingLogger()
    cfg = {"report": "name_that_dataset", "sources": [f"folder:{photo_folder}"], "n": 0, "seed": 0, "resolution": 32,
           "out_dir": str(tmp_path / "out"), "name_that_dataset": {"steps": 30}}
    result = run_audit(cfg, logger)
    kinds = {c[0]: c for c in logger.calls}
    assert kinds["metrics"][1]["audit/name_that_dataset/accuracy"] == result["accuracy"]
    assert str(kinds["images"][1]["audit/name_that_dataset/plot"]).endswith("confusion.png")
    assert kinds["table"][2][0] == "factor" and len(kinds["table"][3]) == 7  # six measured factors and sharpness
    with pytest.raises(ConfigError, match="unknown keys \\['stepz'\\]"):
        run_audit({**cfg, "name_that_dataset": {"stepz": 3}})


def test_the_command_writes_a_report_and_rejects_bad_input(photo_folder, tmp_path, monkeypatch, capsys):
    from ganalyze.cli import audit

    out = tmp_path / "report"
    monkeypatch.setattr(sys, "argv", ["ganalyze-audit", f"sources=[folder:{photo_folder}]", f"out_dir={out}",
                                      "name_that_dataset.steps=50"])
    audit.main()
    report = json.loads((out / "report.json").read_text())
    assert report["report"] == "name_that_dataset" and report["groups"] == ["cool", "warm"]
    assert (out / "confusion.png").stat().st_size > 0 and (out / "factors.csv").is_file()
    (photo_folder / "empty").mkdir()
    monkeypatch.setattr(sys, "argv", ["ganalyze-audit", f"sources=[folder:{photo_folder}]", f"out_dir={out}"])
    with pytest.raises(SystemExit) as code:
        audit.main()
    assert code.value.code == 2 and "is empty" in capsys.readouterr().err
