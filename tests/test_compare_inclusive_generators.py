"""scripts/compare_inclusive_generators.py: per-arm means and t-intervals over seeds, and its bad inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import compare_inclusive_generators as compare  # noqa: E402


def fake_run(folder: Path, star_precision: float, star_accuracy: float) -> None:
    """The two JSON files a run folder holds, with only the fields the table reads."""
    classes = ("circle", "square", "triangle", "diamond", "star", "cross")
    audit = {"attributes": [{"attribute": "class", "value": c, "data_rate": 0.03 if c == "star" else 0.194,
                             "generated_rate": 0.02, "precision": star_precision if c == "star" else 0.5,
                             "recall": 0.4} for c in classes],
             "mode_coverage": {"per_class": {c: {"modes": 16, "covered": 12} for c in classes}},
             "overall": {"precision": 0.7, "recall": 0.6}}
    quality = {"class_accuracy": {"generated_per_class": {c: star_accuracy if c == "star" else 0.9 + i / 100
                                                          for i, c in enumerate(classes)}},
               "factors": {f: {"w1_sigma": w} for f, w in (("size", 0.1), ("x", 0.3), ("y", 0.05), ("hue", 0.2))}}
    for name, data in (("audit/report.json", audit), ("quality/quality.json", quality)):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(data))


def test_table_gives_mean_and_t_interval_over_seeds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for seed, (p, a) in enumerate(((0.2, 0.1), (0.4, 0.3), (0.6, 0.5))):
        fake_run(tmp_path / f"base_s{seed}", p, a)
    (tmp_path / "base_s0" / "train.log").write_text("trained steps 0..500 in 120 s\nresumed\ntrained steps 500..900 in 80 s\n")
    assert compare.main(["--arm", f"base={tmp_path}/base_s*", "--out", str(tmp_path / "t")]) == 0
    arm = json.loads((tmp_path / "t" / "table.json").read_text())["arms"]["base"]
    s = arm["summary"]["rare_precision"]
    # mean 0.4, sd 0.2, t(0.975, 2) = 4.303: half-width 4.303 * 0.2 / sqrt(3) = 0.4969
    assert s["mean"] == pytest.approx(0.4) and s["interval"] == pytest.approx([0.4 - 0.4969, 0.4 + 0.4969], abs=1e-3)
    assert arm["summary"]["rare_modes_covered"]["mean"] == pytest.approx(0.75)
    assert arm["summary"]["majority_accuracy_min"]["mean"] == pytest.approx(0.9)  # star's own accuracy left out
    assert arm["summary"]["w1_sigma_max"]["mean"] == pytest.approx(0.3)
    assert [r["train_seconds"] for r in arm["runs"].values()] == [200.0, None, None]  # a resumed run's pieces add up
    assert "| base (3) |" in capsys.readouterr().out


def test_arms_matching_nothing_or_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        compare.main(["--arm", f"base={tmp_path}/nothing_*"])
    assert stop.value.code == 2 and "matched none" in capsys.readouterr().err
    (tmp_path / "run_s0").mkdir()
    with pytest.raises(SystemExit) as stop:
        compare.main(["--arm", f"base={tmp_path}/run_s*", "--out", str(tmp_path / "t")])
    assert stop.value.code == 2 and "report.json is missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        compare.main(["--arm", f"base={tmp_path}/run_s*", "--rare", "hexagon"])
    assert stop.value.code == 2 and "hexagon" in capsys.readouterr().err


def test_undefined_precision_is_left_out_and_counted(tmp_path: Path) -> None:
    """A generator that draws no star has no star precision: the mean is over the other seeds, the cell says so."""
    for seed, p in enumerate((None, 0.3, 0.5)):
        fake_run(tmp_path / f"imle_s{seed}", p, 0.0)
    assert compare.main(["--arm", f"imle={tmp_path}/imle_s*", "--out", str(tmp_path / "t")]) == 0
    s = json.loads((tmp_path / "t" / "table.json").read_text())["arms"]["imle"]["summary"]["rare_precision"]
    assert s["mean"] == pytest.approx(0.4) and s["defined"] == 2 and s["values"] == [None, 0.3, 0.5]
    assert "(1 seed n/a)" in (tmp_path / "t" / "table.md").read_text()


def test_reference_row_scores_held_out_real_images_near_the_ceiling(tmp_path: Path) -> None:
    """Real squares judged as a generator's: the classifier reads them, and they cover the data's squares."""
    fake_run(tmp_path / "base_s0", 0.2, 0.1)
    assert compare.main(["--arm", f"base={tmp_path}/base_s*", "--rare", "square", "--reference", "rare_square",
                         "--reference-n", "400", "--out", str(tmp_path / "t")]) == 0
    arms = json.loads((tmp_path / "t" / "table.json").read_text())["arms"]
    ref = arms["held-out real rare_square images"]["summary"]
    assert list(arms) == ["held-out real rare_square images", "base"]
    assert 0.01 < ref["rare_data_rate"]["mean"] < 0.1 and ref["rare_class_accuracy"]["mean"] > 0.9
    assert ref["rare_recall"]["mean"] > 0.5 and ref["all_precision"]["mean"] > 0.6
    assert ref["w1_sigma_max"]["mean"] is None  # no factor distances for real images
    assert "| held-out real rare_square images |" in (tmp_path / "t" / "table.md").read_text()


def test_paired_differences_match_runs_by_seed(tmp_path: Path) -> None:
    """The second arm minus the baseline per seed (seeds 0, 1, 2 paired by folder suffix, seed 3 has no partner)."""
    for seed, p in enumerate((0.1, 0.2, 0.3)):
        fake_run(tmp_path / f"base_s{seed}", p, 0.5)
    for seed, p in enumerate((0.3, 0.1, 0.6, 0.9)):
        fake_run(tmp_path / f"imle_s{seed}", p, 0.5)
    assert compare.main(["--arm", f"base={tmp_path}/base_s*", "--arm", f"imle={tmp_path}/imle_s*",
                         "--out", str(tmp_path / "t")]) == 0
    paired = json.loads((tmp_path / "t" / "table.json").read_text())["paired"]["imle"]
    d = paired["rare_precision"]
    assert paired["seeds"] == 3 and d["values"] == pytest.approx([0.2, -0.1, 0.3]) and d["higher"] == 2
    assert d["mean"] == pytest.approx(0.4 / 3)
    assert paired["rare_recall"]["values"] == [0.0, 0.0, 0.0] and paired["rare_recall"]["higher"] == 0
    assert "| imle − base (3) |" in (tmp_path / "t" / "table.md").read_text()
