"""ganalyze-explore: a site built from two short shapes-world runs shows the runs' directions on the evaluation's
held-out seeds (scores equal the evaluation's), its files are the scored and measured images, bad input is one
paragraph; in headless Chromium from file:// the three steps show the right files and a click the right scores;
a BigGAN run's 1,000 class names are searchable, beside a run on another generator."""

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from PIL import Image

from assessors import create_assessor
from ganalyze.cli import explore as explore_cli
from ganalyze.cli.train import run_training
from ganalyze.explorer import build_site
from ganalyze.explorer.browser import browser_missing, headless_chromium, site_url
from ganalyze.logger import NullLogger, WandbLogger
from ganalyze.world.measure import measure

SHORT = ["logger=none", "train.steps=20", "train.batch_size=16", "eval.num_seeds=8", "eval.num_alphas=5",
         "eval.random_directions=1", "eval.grid_seeds=2", "train.fast.precision=fp32"]
SEEDS = 4  # held-out seeds shown per run in the test sites


def train(run_dir: Path, *overrides: str) -> Path:
    """A short ganalyze-train job, in-process (the same run_training the console script calls)."""
    with initialize_config_module(config_module="ganalyze.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*SHORT, f"run_dir={run_dir}", *overrides])
    return run_training(cfg)


@pytest.fixture(scope="module")
def shapes_site(tmp_path_factory):
    """Two short shapes-world runs (shapes_size, brightness) and the site built from them."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("explore")
    runs = [train(root / "size", "assessor=shapes_size"), train(root / "bright", "assessor=brightness")]
    site = root / "site"
    explore_cli.main([str(r) for r in runs] + [f"out={site}", f"seeds={SEEDS}"])
    return runs, site, json.loads((site / "scores.json").read_text())


def test_the_site_is_complete_and_shows_every_run_class_seed_and_alpha(shapes_site):
    runs, site, scores = shapes_site
    for name in ("index.html", "data.js", "explorer.js", "explorer.css", "scores.json",
                 "runs/run1_shapes_size/changes_vs_alpha.png"):
        assert (site / name).is_file(), name
    assert [r["assessor"] for r in scores["runs"]] == ["shapes_size", "brightness"]
    assert scores["runs"][0]["alphas"] == [-0.04, -0.02, 0.0, 0.02, 0.04]
    assert scores["runs"][0]["inside"] == [False, True, True, True, False]
    keys = {(r["run"], r["class"], r["seed_index"], r["alpha_index"]) for r in scores["records"]}
    assert len(keys) == len(scores["records"]) == 2 * 6 * SEEDS * 5  # runs x shape classes x seeds x α
    assert all((site / r["image"]).is_file() and set(r["scores"]) == {"run1_shapes_size", "run2_brightness"}
               for r in scores["records"])


def test_own_scores_are_the_evaluations_on_the_same_held_out_seeds(shapes_site):
    runs, _, scores = shapes_site
    for run, run_id in zip(runs, ("run1_shapes_size", "run2_brightness")):
        with (run / "eval/rows.csv").open() as f:
            evaluated = {(int(r["seed"]), int(r["class"]), float(r["alpha"])): float(r["score"])
                         for r in csv.DictReader(f) if r["direction"] == "trained"}
        shown = [(r, evaluated.get((r["seed"], r["class"], r["alpha"]))) for r in scores["records"] if r["run"] == run_id]
        matched = [(r["scores"][run_id], e) for r, e in shown if e is not None]
        assert len(matched) == SEEDS * 5  # each seed in the class the evaluation drew for it, at every α
        np.testing.assert_allclose(*zip(*matched), rtol=1e-4, atol=1e-6)


def test_the_files_are_the_scored_and_measured_images(shapes_site):
    _, site, scores = shapes_site
    brightness = create_assessor("brightness")
    records = scores["records"][::17]
    images = torch.stack([torch.from_numpy(np.array(Image.open(site / r["image"]).convert("RGB"))).permute(2, 0, 1)
                          for r in records]).float() / 255
    np.testing.assert_allclose(brightness(images).numpy(), [r["scores"]["run2_brightness"] for r in records], atol=3e-3)
    measured = measure(images)
    for name in ("size", "x", "y"):
        np.testing.assert_allclose(measured[name].numpy(), [r["factors"][name] for r in records], atol=0.01)


class Recorder(NullLogger):
    """Keeps what would be logged."""

    def __init__(self):
        self.tables = {}

    def log_table(self, key, columns, rows):
        self.tables[key] = (list(columns), rows)


def test_with_a_logger_each_run_gets_a_table_of_its_images(shapes_site, tmp_path):
    runs, _, _ = shapes_site
    logger = Recorder()
    build_site(runs, tmp_path / "site", seeds=2, classes=["circle"], logger=logger)
    assert sorted(logger.tables) == ["explorer/run1_shapes_size", "explorer/run2_brightness"]
    columns, rows = logger.tables["explorer/run2_brightness"]
    assert columns[:6] == ["seed", "class", "alpha", "in_trained_range", "score", "score_shapes_size"]
    assert "size" in columns and columns[-1] == "image" and len(rows) == 2 * 5
    assert {row[1] for row in rows} == {"circle"} and all(Path(row[-1]).is_file() for row in rows)


def test_wandb_logs_records_as_a_table_of_images(tmp_path, monkeypatch):
    import wandb

    picture = tmp_path / "a.png"
    Image.new("RGB", (8, 8), "red").save(picture)
    logger = WandbLogger(tmp_path / "run", name="records", mode="disabled")  # writing offline: tests/test_logger.py
    logged = []
    monkeypatch.setattr(logger.run, "log", lambda data, **_: logged.append(data))
    logger.log_records("explorer/run1", [{"seed": 1, "alpha": 0.5, "score": 0.25, "image": picture},
                                         {"seed": 2, "score": 0.75, "image": picture}])
    logger.finish()
    table = logged[0]["explorer/run1"]
    assert isinstance(table, wandb.Table) and table.columns == ["seed", "alpha", "score", "image"]
    assert [row[:3] for row in table.data] == [[1, 0.5, 0.25], [2, None, 0.75]]
    assert all(isinstance(row[3], wandb.Image) and row[3].image.size == (8, 8) for row in table.data)


@pytest.mark.parametrize("args, expected", [
    (["out={tmp}/site"], "needs at least one run folder"),
    (["{tmp}", "out={tmp}/site"], "holds no config.yaml"),
    (["{run}", "out={tmp}/site", "seeds=0"], "seeds=0 must be a whole number >= 1"),
    (["{run}", "out={tmp}/site", "batch_size=many"], "batch_size='many' must be a whole number >= 1"),
    (["{run}", "out={tmp}/site", "colour=red"], "unknown option 'colour'"),
    (["{run}", "out={tmp}/site", "classes=[hexagon]"], "unknown class name 'hexagon'"),
    (["{run}", "out={run}"], "not an explorer site"),
])
def test_bad_input_is_one_paragraph_and_exit_2(shapes_site, tmp_path, capsys, args, expected):
    run = shapes_site[0][0]
    with pytest.raises(SystemExit) as exit_:
        explore_cli.main([a.format(tmp=tmp_path, run=run) for a in args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("ganalyze-explore: error: ") and expected in err
    assert len(err.strip().splitlines()) == 1


# ---- in a real browser: Debian's chromium + chromium-driver through selenium, from file:// ----

def need_browser() -> None:
    """Skip without Chromium, except where the run requires it (.ci/run sets GANALYZE_REQUIRE_BROWSER=1)."""
    problem = browser_missing()
    if problem and os.environ.get("GANALYZE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser test is required here, but {problem}")
    if problem:
        pytest.skip(problem)


def console_errors(driver) -> list[str]:
    """SEVERE entries of the page's console log since the last call (script errors, missing files)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def wait_until(driver, condition, timeout: float = 10) -> None:
    """Wait for ``condition(driver)`` (selenium is imported only where the browser test runs)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(condition)


def click(driver, selector: str) -> None:
    driver.find_element("css selector", selector).click()


def shown_images(driver) -> list[str]:
    return [img.get_attribute("src") for img in driver.find_elements("css selector", "#blocks figure img")]


def details_scores(driver) -> dict[str, float]:
    rows = driver.find_elements("css selector", "#details-scores tr")
    return {row.get_attribute("data-run"): float(row.find_elements("css selector", "td")[1].text) for row in rows}


def test_in_chromium_the_chosen_run_class_and_alphas_show_those_files_and_a_click_their_scores(shapes_site):
    need_browser()
    _, site, scores = shapes_site
    records = {(r["run"], r["class"], r["seed_index"], r["alpha_index"]): r for r in scores["records"]}
    with headless_chromium() as driver:
        driver.get(site_url(site))
        assert driver.find_elements("css selector", "#blocks section.block")  # the page script ran
        click(driver, "#run-run1_shapes_size")  # step 1: the second run only
        assert [b.get_attribute("data-run") for b in driver.find_elements("css selector", "#blocks section.block")] \
            == ["run2_brightness"]
        click(driver, '#classes [data-class="2"]')  # step 2: triangle
        click(driver, "#alpha-none")  # step 3: three α columns
        chips = driver.find_elements("css selector", "#alphas .chip")
        assert [c.text for c in chips] == ["α −0.04", "α −0.02", "α 0", "α +0.02", "α +0.04"]
        for index in (0, 2, 4):  # the chips are drawn anew after each click
            driver.find_elements("css selector", "#alphas .chip")[index].click()
        expected = [(site / records["run2_brightness", 2, s, j]["image"]).as_uri() for s in range(SEEDS) for j in (0, 2, 4)]
        assert shown_images(driver) == expected
        wait_until(driver, lambda d: d.execute_script(  # every shown file loads, at its 32 px
            "return [...document.querySelectorAll('#blocks figure img')].every(i => i.complete && i.naturalWidth === 32)"))
        driver.find_element("css selector", 'figure[data-run="run2_brightness"][data-seed="3"][data-alpha="4"]').click()
        record = records["run2_brightness", 2, 3, 4]
        shown = details_scores(driver)
        assert list(shown) == ["run2_brightness"]
        assert shown["run2_brightness"] == pytest.approx(record["scores"]["run2_brightness"], rel=1e-3)
        assert "triangle" in driver.find_element("css selector", "#details-info").text
        click(driver, "#run-run1_shapes_size")  # both assessors chosen: the details score the image with both
        shown = details_scores(driver)
        assert set(shown) == {"run1_shapes_size", "run2_brightness"}
        for run_id, value in shown.items():
            assert value == pytest.approx(record["scores"][run_id], rel=1e-3)
        factors = driver.find_element("css selector", "#details-factors").text
        assert f"size {record['factors']['size']:.4g}" in factors
        assert console_errors(driver) == []


@pytest.fixture(scope="module")
def biggan_site(tmp_path_factory, shapes_site):
    """A short run on a random-weight BigGAN with ImageNet's 1,000 classes and its site with two classes, beside
    the shapes_size run (a second generator)."""
    root = tmp_path_factory.mktemp("explore_biggan")
    run = train(root / "run", "generator=tiny_biggan", "generator.architecture.num_classes=1000",
                "assessor=brightness", "train.steps=2", "train.batch_size=2", "eval.num_seeds=2",
                "eval.num_alphas=3", "train.classes=[goldfish]")
    site = root / "site"
    build_site([run, shapes_site[0][0]], site, seeds=2, classes=["goldfish", "golden retriever"])
    return site, json.loads((site / "scores.json").read_text())


def test_in_chromium_a_biggan_sites_class_search_covers_all_1000_names(biggan_site):
    need_browser()
    site, scores = biggan_site
    assert {r["class"] for r in scores["records"] if r["run"] == "run1_brightness"} == {1, 207}
    with headless_chromium() as driver:
        driver.get(site_url(site))
        search = driver.find_element("css selector", "#class-search")
        assert search.is_displayed()
        assert "2 of 1000 classes drawn" in driver.find_element("css selector", "#class-note").text
        search.send_keys("retriever")
        chips = driver.find_elements("css selector", "#classes .chip")
        assert [c.text for c in chips][0] == "golden retriever" and len(chips) == 5
        assert [c.is_enabled() for c in chips] == [True, False, False, False, False]  # only one of them is drawn
        assert "5 of 1000 class names match" in driver.find_element("css selector", "#class-note").text
        chips[0].click()
        images = shown_images(driver)
        assert images and all("/class207/" in src for src in images)
        assert set(images) == {(site / r["image"]).as_uri() for r in scores["records"] if r["class"] == 207}
        search.clear()
        search.send_keys("Labrador")
        assert [c.text for c in driver.find_elements("css selector", "#classes .chip")] == ["Labrador retriever"]
        click(driver, '#generators input[value="1"]')  # the other generator: the shapes world's run and classes
        assert [b.get_attribute("data-run") for b in driver.find_elements("css selector", "#blocks section.block")] \
            == ["run2_shapes_size"]
        assert not search.is_displayed()
        assert [c.text for c in driver.find_elements("css selector", "#classes .chip")] == \
            ["circle", "square", "triangle", "diamond", "star", "cross"]
        assert console_errors(driver) == []
