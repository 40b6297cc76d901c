"""Factor analysis: on a toy generator whose first latent sets the grey level, a direction along it must show
brightness rising with α (ρ = 1) and redness not moving; the command writes its table, plot and raw rows."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module

from assessors import create_assessor
from ganalyze.cli.factors import main as factors_main
from ganalyze.cli.train import run_training
from ganalyze.evaluation import EvalSettings, evaluate
from ganalyze.factor_analysis import COLUMNS, factor_table, factor_tools
from ganalyze.generators.base import Generator
from ganalyze.transformers.linear import LinearTransformer

torch.set_num_threads(1)


class GreyGenerator(Generator):
    """Flat grey images (with a fixed dark square) whose grey level is sigmoid(z[0])."""

    dim_z, num_classes, resolution = 4, 2, 16

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        images = torch.sigmoid(z[:, 0]).view(-1, 1, 1, 1).expand(-1, 3, 16, 16).clone()
        images[:, :, 6:10, 6:10] = 0.1
        return images


def test_a_brightness_direction_moves_brightness_only():
    transformer = LinearTransformer(dim_z=4)
    with torch.no_grad():
        transformer.theta.copy_(torch.tensor([[4.0, 0.0, 0.0, 0.0]]))
    generator = GreyGenerator()
    settings = EvalSettings(num_seeds=12, num_alphas=5, batch_size=12, world=False)
    tools, true_names = factor_tools(generator, settings.world)
    evaluation = evaluate(generator, transformer, create_assessor("brightness"), (-0.1, 0.1), settings, tools=tools)
    rows = {(r["direction"], r["factor"]): r for r in factor_table(evaluation, true_names)}
    assert {f for _, f in rows} == {"score", "brightness", "colourfulness", "redness", "centeredness", "simplicity",
                                    "object_size"}
    assert set(next(iter(rows.values()))) == set(COLUMNS) and true_names == set()
    bright = rows[("trained", "brightness")]
    # Spearman ρ pools the changes of all seeds, whose slopes differ (sigmoid), so it is high but below 1.
    assert bright["spearman"] > 0.9 and bright["slope"] > 0 and bright["standardised_change"] > 0
    assert bright["monotonic_fraction"] == 1.0 and bright["source"] == "image"
    assert rows[("trained", "score")]["spearman"] == pytest.approx(bright["spearman"])  # the score is brightness
    assert rows[("trained", "redness")]["spearman"] == 0.0 and rows[("trained", "redness")]["slope"] == pytest.approx(0, abs=1e-6)


def test_command_writes_table_plot_and_rows_on_a_trained_run(tmp_path):
    with initialize_config_module("ganalyze.conf", version_base=None):
        cfg = compose("config", overrides=[
            "generator=tiny_biggan", "assessor=brightness", "logger=none", f"run_dir={tmp_path / 'run'}",
            "train.steps=2", "train.batch_size=2", "eval.enabled=false", "eval.num_seeds=3", "eval.num_alphas=3",
        ])
    run_dir = run_training(cfg)
    factors_main([f"run_dir={run_dir}", "eval.world=true"])  # world instruments on BigGAN images: plumbing only
    out = run_dir / "factors"
    table = list(csv.DictReader((out / "factors.csv").open()))
    assert tuple(table[0]) == COLUMNS and {r["direction"] for r in table} == {"trained", "random"}
    sources = {r["factor"]: r["source"] for r in table}
    assert sources["score"] == "score" and sources["simplicity"] == "image" and sources["size"] == "true"
    payload = json.loads((out / "factors.json").read_text())
    assert payload["num_seeds"] == 3 and len(payload["factors"]) == len(table)
    assert (out / "factors.png").stat().st_size > 0 and (out / "rows.csv").is_file()
    assert np.isfinite([float(r["spearman"]) for r in table]).all()
