"""Pictures that explain themselves: titles name what was trained and measured, the trained α range is marked,
bands and shaded ranges are in legends, steerability grids carry the edit's own quantity, sheets say what is
generated; and the old call forms of visuals.py still work."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import ganalyze.data_bias as data_bias
import ganalyze.steerability as steerability
import ganalyze.visuals as visuals
from ganalyze.projection.project import default_caption, grid_image
from ganalyze.steerability import SteerabilityResult, grid_annotations, grid_title, plot_grid

ALPHAS = [-0.04, -0.02, 0.0, 0.02, 0.04]
TRAINED = (-0.02, 0.02)


@pytest.fixture
def figures(monkeypatch) -> list:
    """The matplotlib figures the plotting functions close, kept for inspection."""
    kept: list = []
    monkeypatch.setattr(visuals.plt, "close", kept.append)
    return kept


def fake_evaluation() -> SimpleNamespace:
    """The parts of an Evaluation that plot_changes reads: two groups, two directions."""
    change = (np.array(ALPHAS) * 0.8).tolist()
    group = {"mean_change": change, "std_change": [0.003] * 5, "spearman": 0.9}
    metrics = {d: {"score": {**group, "mean_target_change": ALPHAS}, "size": group, "class": {}} for d in ("trained", "random")}
    return SimpleNamespace(metrics=metrics, alphas=np.array(ALPHAS), alpha_range=TRAINED, seeds=list(range(7)))


def test_image_grid_old_call_still_works():
    images = torch.rand(2, 3, 3, 8, 8)
    picture = visuals.image_grid(images, np.zeros((2, 3)), [-1.0, 0.0, 1.0], ["a", "b"], "title")
    assert picture.size[1] == 2 * visuals.MARGIN + 2 * visuals.MIN_CELL  # no notes without the new arguments


def test_image_grid_marks_the_trained_columns_and_says_so():
    images = torch.zeros(2, len(ALPHAS), 3, 8, 8)
    plain = visuals.image_grid(images, np.zeros((2, len(ALPHAS))), ALPHAS, ["#0", "#1"], "t")
    marked = visuals.image_grid(images, np.zeros((2, len(ALPHAS))), ALPHAS, ["#0", "#1"], "t", trained_range=TRAINED,
                                score_label="shapes_size score")
    assert marked.height == plain.height + 2 * visuals.MARGIN  # two legend lines under the grid
    left = marked.width - len(ALPHAS) * visuals.MIN_CELL
    bar_y = 2 * visuals.MARGIN - 2
    column_centre = [left + j * visuals.MIN_CELL + visuals.MIN_CELL // 2 for j in range(len(ALPHAS))]
    coloured = [marked.getpixel((x, bar_y)) == visuals.TRAINED_COLOUR for x in column_centre]
    assert coloured == [False, True, True, True, False]


def test_definition_title_names_assessor_generator_and_class():
    title = visuals.definition_title("shapes_size", "shapes", class_label="circle")
    assert "shapes_size" in title and "shapes" in title and "circle" in title
    assert "zoom" in visuals.definition_title("shapes_size", "shapes", trained="zoom")
    assert visuals.definition_title("shapes_size", "shapes").endswith("rows = held-out seeds")
    given = visuals.definition_title("shapes_size", "shapes", rows="the given latents z")
    assert given.endswith("rows = the given latents z")


def test_plot_changes_titles_legends_and_no_foreign_target(tmp_path, figures):
    visuals.plot_changes(fake_evaluation(), tmp_path / "a.png", assessor="shapes_size", generator="shapes")
    fig = figures[-1]
    assert "shapes_size" in fig._suptitle.get_text() and "shapes" in fig._suptitle.get_text()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("trained α range" in t for t in legend) and any("±1 std" in t for t in legend)
    score_ax = fig.axes[0]
    assert score_ax.get_title() == "shapes_size score"
    assert any("target" in t.get_text() for t in score_ax.get_legend().get_texts())
    assert "true object size" in fig.axes[1].get_title()

    visuals.plot_changes(fake_evaluation(), tmp_path / "b.png", assessor="shapes_size", generator="shapes", trained="zoom")
    fig = figures[-1]
    assert "zoom" in fig._suptitle.get_text()
    assert "not trained on" in fig.axes[0].get_title()
    assert not any("target" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert (tmp_path / "b.png").stat().st_size > 0


def test_plot_changes_old_call_still_works(tmp_path):
    assert visuals.plot_changes(fake_evaluation(), tmp_path / "c.png").stat().st_size > 0


def test_plot_loss_has_a_title(tmp_path, figures):
    visuals.plot_loss([1.0, 0.5, 0.25], tmp_path / "loss.png", title="Training loss: shapes_size in shapes")
    assert figures[-1].axes[0].get_title() == "Training loss: shapes_size in shapes"


def steer_result() -> SteerabilityResult:
    """Two seeds walked over three α on one slider; achieved = seed * α exactly."""
    alphas = [-0.5, 0.0, 0.5]
    rows = [{"seed_index": i, "class": 3 + i, "slider": "all", "alpha": a, "achieved": (i + 1) * a}
            for i in range(3) for a in alphas]
    summary = {"edit": "zoom", "unit": "log2 scale factor", "trained_range": [-0.5, 0.5], "alphas": alphas}
    return SteerabilityResult(rows, summary, {"all": torch.zeros(2, 3, 3, 8, 8)})


def test_steerability_grid_carries_the_edits_own_quantity(tmp_path):
    result = steer_result()
    notes = grid_annotations(result, "all", 2, class_names=["c0", "c1", "c2", "star", "cross"])
    assert notes["row_labels"] == ["#0 star", "#1 cross"]
    np.testing.assert_allclose(notes["achieved"], [[-0.5, 0.0, 0.5], [-1.0, 0.0, 1.0]])
    title = grid_title(result.summary, "all", "shapes")
    assert "objective=zoom" in title and "shapes" in title
    path = plot_grid(result.grids["all"], result.summary["alphas"], tmp_path / "grid.png", title, **notes)
    with Image.open(path) as picture:
        assert picture.height > 2 * visuals.MARGIN + 2 * visuals.MIN_CELL  # legend lines under the grid


def test_steerability_curves_title_and_legend(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    kept: list = []
    monkeypatch.setattr(plt, "close", kept.append)
    rows = [{"slider": "all", "alpha": a, "edit_achieved": a} for a in (-0.5, 0.0, 0.5)]
    per_alpha = [{"alpha": a, "median": a / 2, "q25": a / 3, "q75": a / 1.5} for a in (-0.5, 0.0, 0.5)]
    summary = {"edit": "zoom", "unit": "log2 scale factor", "trained_range": [-0.25, 0.25], "limit_ratio": 0.5,
               "num_seeds": 5, "sliders": {"all": {"per_alpha": per_alpha, "spearman_rho": 1.0, "limit_low": -0.5,
                                                   "limit_high": None}}}
    steerability.plot_curves(rows, summary, tmp_path / "curves.png", generator="shapes")
    fig = kept[-1]
    assert "objective=zoom" in fig._suptitle.get_text() and "shapes" in fig._suptitle.get_text()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("trained range" in t for t in legend) and any("percentile" in t for t in legend)
    assert any("limit" in t for t in legend)


def test_bias_scatter_says_what_it_shows(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    kept: list = []
    monkeypatch.setattr(plt, "close", kept.append)
    rows = [{"factor": "size", "dataset": name, "data_sigma": s, "delta_mu": 2 * s, "delta_plus": s, "delta_minus": -s,
             "model_sigma": s, "edit": "zoom", "alpha_star": 0.5} for name, s in (("a", 0.01), ("b", 0.02), ("c", 0.04))]
    data_bias.plot_scatter(rows, {"size": {"r": 1.0, "p": 0.0}}, {"size": {"r": 1.0}}, tmp_path / "s.png", walk="linear")
    fig = kept[-1]
    assert "linear walks" in fig._suptitle.get_text() and "data's σ" in fig._suptitle.get_text()
    assert "model σ = data σ" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


def test_sample_sheets_say_what_is_real():
    assert default_caption(["input (warm)", "warm", "cool"]).startswith("Column 1: real")
    assert default_caption(["warm", "cool"]).startswith("All generated")
    cells = torch.zeros(2, 3, 3, 4, 4)
    plain, captioned = grid_image(cells, ["a", "b", "c"]), grid_image(cells, ["a", "b", "c"], caption="generated " * 8)
    assert captioned.width == plain.width and captioned.height > plain.height + 12  # wrapped to the grid width


def test_factor_plot_names_the_trained_score(tmp_path, figures):
    import ganalyze.factor_analysis as factor_analysis

    rng = np.random.default_rng(0)
    sweep = SimpleNamespace(scores=rng.random((6, len(ALPHAS))), factors={"size": rng.random((6, len(ALPHAS)))})
    evaluation = SimpleNamespace(**vars(fake_evaluation()), sweeps={"trained": sweep, "random": sweep})
    factor_analysis.plot_factors(evaluation, tmp_path / "f.png", assessor="brightness", generator="shapes")
    fig = figures[-1]
    assert "brightness score" in fig._suptitle.get_text() and "shapes" in fig._suptitle.get_text()
    assert "trained α range" in [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
