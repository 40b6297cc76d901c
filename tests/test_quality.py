"""The quality report: circular W1, real-vs-real sanity, a broken generator fails, the reduced report's files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from ganalyze.cli.quality import main as quality_main
from ganalyze.generators.base import Generator
from ganalyze.world import SHAPE_NAMES, load_variant
from ganalyze.world.classifier import ShapeClassifier
from ganalyze.world.quality import BARRED_FACTORS, circular_spread, circular_wasserstein, compare_samples, quality_report


class GreyGenerator(Generator):
    """A deliberately broken generator: every image is flat mid-grey."""

    dim_z, num_classes, resolution = 4, len(SHAPE_NAMES), 32

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.full((len(z), 3, 32, 32), 0.5)


@pytest.fixture(scope="module")
def classifier() -> ShapeClassifier:
    return ShapeClassifier.from_pretrained()


def test_circular_wasserstein_wraps_around_and_matches_the_line_away_from_the_seam() -> None:
    assert circular_wasserstein(np.array([10.0]), np.array([350.0])) == pytest.approx(20.0)
    rng = np.random.default_rng(0)
    a, b = rng.uniform(100, 140, 500), rng.uniform(120, 150, 300)
    assert circular_wasserstein(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-9)
    assert circular_wasserstein(a, a + 90.0) == pytest.approx(90.0)
    assert circular_spread(np.array([350.0, 10.0])) == pytest.approx(10.0)


def test_shipped_classifier_is_accurate_on_fresh_real_images(classifier: ShapeClassifier) -> None:
    images, factors = load_variant("broad").sample(300, seed=12345)
    assert (classifier.predict(images) == factors.class_id).float().mean() >= 0.95


def test_real_against_real_passes_every_bar(classifier: ShapeClassifier) -> None:
    variant = load_variant("broad")
    (a, fa), (b, fb) = variant.sample(600, seed=1), variant.sample(600, seed=2)
    report = compare_samples(a, fa.class_id.long(), b, fb.class_id.long(), classifier)
    assert all(report["factors"][k]["w1_sigma"] < 0.12 for k in BARRED_FACTORS)
    assert report["all_passed"], report["passed"]


def test_constant_grey_generator_fails(classifier: ShapeClassifier) -> None:
    report = quality_report(GreyGenerator(), num_samples=60, classifier=classifier)
    assert not report["passed"]["class_accuracy"] and not report["passed"]["w1_size"]
    assert not report["all_passed"]


def test_reduced_report_of_the_shipped_generator_writes_json_and_grid(tmp_path: Path) -> None:
    out = tmp_path / "q"
    assert quality_main(["--num-samples", "120", "--out-dir", str(out)]) == 0
    report = json.loads((out / "quality.json").read_text())
    assert set(report["class_accuracy"]["generated_per_class"]) == set(SHAPE_NAMES)
    assert set(report["passed"]) == {"class_accuracy", "coverage", *(f"w1_{k}" for k in BARRED_FACTORS)}
    assert all(np.isfinite(report["factors"][k]["w1_sigma"]) for k in BARRED_FACTORS)
    assert np.array(report["coverage"]["ratio"]).shape == (len(SHAPE_NAMES), 3)
    assert (out / "samples.png").stat().st_size > 1000


def test_report_command_fails_cleanly_without_a_generator(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        quality_main(["--num-samples", "60", "--generator-dir", str(tmp_path / "none")])
    assert exit_.value.code == 2
    assert "not a folder" in capsys.readouterr().err
