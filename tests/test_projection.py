"""Dataset projection: invertibility, exact likelihood, save/load, resumable training, the assessor's gradient."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganalyze.errors import ConfigError, UnknownNameError, WeightsError
from ganalyze.projection import AutoEncoder, ConditionalFlow, ProjectionModel
from ganalyze.projection.datasets import LabelledImages, folder_sets, split_held_out
from ganalyze.projection.project import projection_grid, sample_grid, save_grid
from ganalyze.projection.train import optimise, train_projection
from ganalyze.projection.variant_classifier import VariantClassifier

REPO = Path(__file__).resolve().parent.parent
LABELS = ["a", "b", "c"]


FLOW_KINDS = [  # a map with a global vector (seeing the map); a one-channel map (squeezed), pointwise, no
    {"shape": (2, 2, 2), "global_dim": 3, "context_dim": 4},  # coordinates; a map alone
    {"shape": (1, 4, 2), "global_dim": 2, "kernel_size": 1, "positional": False},
    {"shape": (2, 3, 3), "global_dim": 0},
]


def random_flow(shape=(2, 2, 2), global_dim: int = 3, blocks: int = 3, seed: int = 0, **kind) -> ConditionalFlow:
    """A flow whose ActNorms are initialised on data and whose weights are perturbed away from the identity."""
    torch.manual_seed(seed)
    flow = ConditionalFlow(shape, LABELS, global_dim=global_dim, blocks=blocks, global_blocks=blocks, hidden=16,
                           global_hidden=16, embed_dim=4, seed=seed, **kind)
    flow.train()
    flow(torch.randn(64, flow.dim) * 2 + 1, torch.randint(3, (64,)))  # data-dependent ActNorm init
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return flow.eval()


def tiny_model(seed: int = 0) -> ProjectionModel:
    torch.manual_seed(seed)
    ae = AutoEncoder(resolution=16, latent_channels=1, stages=2, width=4, global_dim=3).eval()
    return ProjectionModel(ae, random_flow(ae.latent_shape, ae.global_dim, seed=seed)).eval()


def tiny_data(n_per_set: int = 8, resolution: int = 16) -> LabelledImages:
    """Three 'data sets' of random images whose colour depends on the label."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat_interleave(n_per_set)
    images = torch.rand(len(labels), 3, resolution, resolution, generator=gen) * 0.5
    images[torch.arange(len(labels)), labels] += 0.5
    return LabelledImages((images * 255).round().to(torch.uint8), labels, LABELS)


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_flow_is_invertible(kind: dict) -> None:
    flow = random_flow(**kind)
    x, y = torch.randn(32, flow.dim) * 3, torch.randint(3, (32,))
    z, _ = flow(x, y)
    assert not torch.allclose(z, x, atol=1e-2)  # the test flow is far from the identity
    assert torch.allclose(flow.inverse(z, y), x, atol=1e-4)
    assert torch.allclose(flow(flow.inverse(z, y), y)[0], z, atol=1e-4)


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_flow_log_likelihood_matches_brute_force_change_of_variables(kind: dict) -> None:
    flow = random_flow(**kind).double()
    x = torch.randn(4, flow.dim, dtype=torch.float64)
    for label in range(3):
        y = torch.full((1,), label, dtype=torch.long)
        for row in x:
            jac = torch.autograd.functional.jacobian(lambda v: flow(v[None], y)[0][0], row)
            z = flow(row[None], y)[0][0]
            expected = -0.5 * (z.pow(2).sum() + flow.dim * math.log(2 * math.pi)) + torch.linalg.slogdet(jac)[1]
            assert torch.allclose(flow.log_prob(row[None], y)[0], expected, atol=1e-8)


@pytest.mark.parametrize("kind", FLOW_KINDS)
def test_class_log_likelihoods_and_posterior(kind: dict) -> None:
    flow = random_flow(**kind)
    h = torch.randn(7, flow.dim)
    ll = flow.class_log_likelihoods(h)
    for label in range(3):
        assert torch.allclose(ll[:, label], flow.log_prob(h, torch.full((7,), label)), atol=1e-5)
    model = tiny_model()
    log_post = model.log_posterior(torch.rand(5, 3, 16, 16))
    assert torch.allclose(log_post.exp().sum(1), torch.ones(5), atol=1e-5)
    assert (log_post <= 1e-6).all()


@pytest.mark.parametrize("context_dim", [0, 4])
def test_the_map_part_ignores_the_global_vector_and_is_local(context_dim: int) -> None:
    """z's map part depends on the map alone, within the couplings' reach; its global part on the global vector
    (and, with a context, on the map too)."""
    flow = random_flow(shape=(2, 6, 6), global_dim=3, blocks=2, kernel_size=3, context_dim=context_dim)  # reach 2
    h, y = torch.randn(1, flow.dim), torch.tensor([1])
    z = flow(h, y)[0]
    moved_global, moved_corner = h.clone(), h.clone()
    moved_global[:, flow.spatial_dim :] += 1.0
    moved_corner.view(-1)[0] += 1.0  # channel 0, position (0, 0) of the map
    z_global, z_corner = flow(moved_global, y)[0], flow(moved_corner, y)[0]
    assert torch.equal(z_global[:, : flow.spatial_dim], z[:, : flow.spatial_dim])
    assert not torch.allclose(z_global[:, flow.spatial_dim :], z[:, flow.spatial_dim :])
    changed = (z_corner - z)[:, : flow.spatial_dim].view(2, 6, 6).abs().amax(0) > 0
    assert changed[0, 0] and not changed[3:].any() and not changed[:, 3:].any()
    assert torch.equal(z_corner[:, flow.spatial_dim :], z[:, flow.spatial_dim :]) == (context_dim == 0)


def test_labels_start_as_one_shared_map() -> None:
    """A fresh flow's label embeddings are zero: every data set starts with the same map and grows apart in training."""
    flow = ConditionalFlow((2, 2, 2), LABELS, global_dim=3, blocks=2, global_blocks=2, hidden=8, embed_dim=4)
    h = torch.randn(4, flow.dim)
    z_a, z_b = flow(h, torch.zeros(4, dtype=torch.long))[0], flow(h, torch.ones(4, dtype=torch.long))[0]
    assert torch.equal(z_a, z_b)
    with pytest.raises(ValueError, match="odd kernel"):
        ConditionalFlow((2, 2, 2), LABELS, kernel_size=2)


def test_projection_onto_the_source_is_the_reconstruction() -> None:
    model = tiny_model()
    images = torch.rand(4, 3, 16, 16)
    source = torch.tensor([0, 1, 2, 0])
    cells = projection_grid(model, images, source)
    assert cells.shape == (4, 4, 3, 16, 16)
    assert torch.allclose(cells[:, 0], images)
    own = cells[torch.arange(4), source + 1]
    assert torch.allclose(own, model.autoencoder(images), atol=1e-4)
    with torch.no_grad():  # another data set renders the content from another code
        other = model.flow.inverse(model.to_prior(images, source), (source + 1) % 3)
    assert not torch.allclose(other, model.autoencoder.encode(images), atol=1e-3)
    samples = sample_grid(model, rows=2, seed=0)
    assert samples.shape == (2, 3, 3, 16, 16) and samples.min() >= 0 and samples.max() <= 1


def test_save_grid_writes_png(tmp_path) -> None:
    path = save_grid(torch.rand(2, 3, 3, 16, 16), LABELS, tmp_path / "g.png")
    with Image.open(path) as img:
        assert img.width == (3 * 17 + 1) * 4 and img.height > (2 * 17 + 1) * 4


@pytest.mark.parametrize("cls,kwargs", [
    (AutoEncoder, {"resolution": 16, "latent_channels": 1, "stages": 2, "width": 4, "global_dim": 2, "decoder_depth": 2}),
    (VariantClassifier, {"labels": LABELS, "resolution": 16, "width": 4}),
])
def test_save_pretrained_round_trip(tmp_path, cls, kwargs) -> None:
    torch.manual_seed(0)
    model = cls(**kwargs).eval()
    model.save_pretrained(tmp_path / "m")
    loaded = cls.from_pretrained(tmp_path / "m")
    images = torch.rand(3, 3, 16, 16)
    assert not loaded.training
    assert torch.equal(loaded(images), model(images))


def test_projection_model_round_trip_and_errors(tmp_path) -> None:
    model = tiny_model()
    model.save_pretrained(tmp_path / "p")
    loaded = ProjectionModel.from_pretrained(tmp_path / "p")
    images = torch.rand(3, 3, 16, 16)
    assert not loaded.flow.training and loaded.labels == LABELS
    assert torch.equal(loaded.log_posterior(images), model.log_posterior(images))
    assert torch.equal(loaded.flow.map_flow.perm0, model.flow.map_flow.perm0)
    state = torch.load(tmp_path / "p" / "flow" / "model.pt", weights_only=True)
    del state["map_flow.embedding.weight"]
    torch.save(state, tmp_path / "p" / "flow" / "model.pt")
    with pytest.raises(WeightsError, match="map_flow.embedding.weight"):
        ProjectionModel.from_pretrained(tmp_path / "p")
    with pytest.raises(WeightsError, match="no projection model folder"):
        ProjectionModel.from_pretrained(tmp_path / "absent")


def test_training_resumes_exactly(tmp_path) -> None:
    """A run killed after a checkpoint and resumed ends with the same weights as an uninterrupted run."""
    data = tiny_data()
    cfg = {"steps": 6, "lr": 1e-3, "seed": 3, "batch_size": 4, "checkpoint_every": 2}

    def run(folder, crash_at=None):
        torch.manual_seed(0)
        model = AutoEncoder(resolution=16, latent_channels=1, stages=2, width=4)

        def loss(gen):
            if crash_at is not None and loss.calls == crash_at:
                raise KeyboardInterrupt
            loss.calls += 1
            return model.loss(data.batch(torch.randint(len(data), (4,), generator=gen))[0], 0.01, generator=gen)

        loss.calls = 0
        optimise("ae", model, loss, cfg, folder / "ckpt.pt", {"train": cfg})
        return model

    full = run(tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed", crash_at=3)  # dies during step 4; checkpoint at step 2
    resumed = run(tmp_path / "killed")
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(ConfigError, match="lr"):
        optimise("ae", AutoEncoder(resolution=16, latent_channels=1, stages=2, width=4), lambda g: {}, {**cfg, "lr": 1.0},
                 tmp_path / "full" / "ckpt.pt", {"train": {**cfg, "lr": 1.0}})


def test_train_projection_end_to_end(tmp_path) -> None:
    data = tiny_data(n_per_set=10)
    train, held_out = split_held_out(data, 2)
    assert len(train) == 24 and len(held_out) == 6
    stage = lambda model: {"model": model, "train": {"steps": 3, "lr": 1e-3, "seed": 0, "batch_size": 8, "kl_weight": 0.01}}  # noqa: E731
    cfg = {"data": {"sets": LABELS},
           "autoencoder": stage({"resolution": 16, "latent_channels": 1, "stages": 2, "width": 4, "global_dim": 2}),
           "flow": stage({"blocks": 2, "hidden": 8, "global_blocks": 2, "global_hidden": 8, "embed_dim": 4})}
    model = train_projection(train, held_out, cfg, tmp_path)
    loaded = ProjectionModel.from_pretrained(tmp_path / "model")
    assert loaded.labels == LABELS and (tmp_path / "train_metrics.json").is_file()
    images = held_out.batch(torch.arange(6))[0]
    assert torch.equal(loaded.log_posterior(images), model.log_posterior(images))


def test_folder_sets_use_folder_names_as_labels(tmp_path) -> None:
    for name, colour in [("red", (255, 0, 0)), ("blue", (0, 0, 255))]:
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(np.full((20, 30, 3), colour, dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    data = folder_sets(tmp_path, None, resolution=8)
    assert data.names == ["blue", "red"] and data.images.shape == (4, 3, 8, 8)
    assert data.images[data.labels == 0, 2].float().mean() == 255 and data.images[data.labels == 1, 0].float().mean() == 255
    with pytest.raises(ConfigError, match="green"):
        folder_sets(tmp_path, ["green"], resolution=8)


def test_dataset_likeness_assessor_gradient_reaches_the_image(tmp_path) -> None:
    from assessors import create_assessor, list_assessors

    assert "dataset_likeness" in list_assessors()
    tiny_model().save_pretrained(tmp_path / "p")
    assessor = create_assessor("dataset_likeness", target="b", weights=str(tmp_path / "p"))
    images = torch.rand(3, 3, 24, 24, requires_grad=True)  # another size than the model's: resized inside
    scores = assessor(images)
    assert scores.shape == (3,) and (scores <= 1e-6).all()
    assert torch.allclose(scores, assessor.model.log_posterior(images)[:, 1])
    scores.sum().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    with pytest.raises(UnknownNameError, match="zebra"):
        create_assessor("dataset_likeness", target="zebra", weights=str(tmp_path / "p"))


def test_dataset_likeness_probability_output(tmp_path) -> None:
    from assessors import create_assessor

    tiny_model().save_pretrained(tmp_path / "p")
    log_p = create_assessor("dataset_likeness", target="c", weights=str(tmp_path / "p"))
    prob = create_assessor("dataset_likeness", target="c", weights=str(tmp_path / "p"), output="probability")
    images = torch.rand(4, 3, 16, 16)
    assert prob.score_range == (0.0, 1.0) and log_p.score_range == (float("-inf"), 0.0)
    assert torch.allclose(prob(images), log_p(images).exp()) and ((prob(images) >= 0) & (prob(images) <= 1)).all()
    with pytest.raises(ConfigError, match="odds"):
        create_assessor("dataset_likeness", target="c", weights=str(tmp_path / "p"), output="odds")


def test_typicality_is_the_mixture_log_likelihood_per_code_dimension() -> None:
    model = tiny_model()
    images = torch.rand(5, 3, 16, 16)
    codes = model.autoencoder.encode(images)
    per_label = torch.stack([model.flow.log_prob(codes, torch.full((5,), k)) for k in range(3)])  # (K, N)
    expected = (per_label.exp().mean(0).log()) / model.flow.dim
    assert torch.allclose(model.typicality(images), expected, atol=1e-4, rtol=1e-4)


def compose_config(name: str, overrides: list[str]):
    """A packaged Hydra config, composed as the command line would."""
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="ganalyze.conf", version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


def test_projection_command_writes_grids_and_numbers(tmp_path) -> None:
    import json

    from ganalyze.cli.project import run_projection

    model = tiny_model()
    model.save_pretrained(tmp_path / "p")
    cfg = compose_config("projection/project", [f"weights={tmp_path / 'p'}", "source=b", "logger=none",
                                                f"inputs={tmp_path / 'in'}", f"out_dir={tmp_path / 'out'}", "num_samples=2"])
    (tmp_path / "in").mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 60 * i, dtype=np.uint8)).save(tmp_path / "in" / f"{i}.png")
    run_projection(cfg)
    report = json.loads((tmp_path / "out" / "projection.json").read_text())
    assert report["columns"] == ["input"] + LABELS
    probs = np.array(report["p_dataset_given_image"])
    assert probs.shape == (3, 4, 3) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    assert (tmp_path / "out" / "projection.png").is_file() and (tmp_path / "out" / "samples.png").is_file()
    with pytest.raises(UnknownNameError, match="zebra"):
        run_projection(compose_config("projection/project", [f"weights={tmp_path / 'p'}", "source=zebra", "logger=none"]))


def test_training_command_refuses_to_overwrite_a_run(tmp_path) -> None:
    from ganalyze.cli.project import run_training

    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(ConfigError, match="resume=true"):
        run_training(compose_config("projection/train", [f"run_dir={tmp_path}", "logger=none"]))


def test_shipped_weights_score_cool_images_as_cool() -> None:
    """The shipped projection model loads by default and tells the palette data sets apart on fresh world images."""
    from assessors import create_assessor
    from ganalyze.world import load_variant

    assessor = create_assessor("dataset_likeness", target="cool")
    assert assessor.model.labels == ["warm", "cool", "centered"]
    with torch.no_grad():
        cool = assessor(load_variant("cool").sample(16, seed=3_000_000)[0])
        warm = assessor(load_variant("warm").sample(16, seed=3_000_000)[0])
    assert cool.median() > -1.0 and warm.median() < -5.0  # log p(cool | x): near 0 for cool, far below for warm


def test_variant_classifier_assessor_scores_the_judges_probability(tmp_path) -> None:
    from assessors import create_assessor, list_assessors

    assert "variant_classifier" in list_assessors()
    torch.manual_seed(0)
    judge = VariantClassifier(["cool", "warm"], resolution=16, width=4)
    judge.save_pretrained(tmp_path / "judge")
    assessor = create_assessor("variant_classifier", weights=str(tmp_path / "judge"), target="warm")
    images = torch.rand(3, 3, 20, 20, requires_grad=True)  # another size than the judge's: resized inside
    scores = assessor(images)
    assert assessor.score_range == (0.0, 1.0) and scores.shape == (3,)
    assert torch.allclose(scores, judge(images).softmax(1)[:, 1])
    scores.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    with pytest.raises(UnknownNameError, match="zebra"):
        create_assessor("variant_classifier", weights=str(tmp_path / "judge"), target="zebra")
    with pytest.raises(ValueError):
        assessor(torch.rand(3, 1, 20, 20))


def test_direction_report_counts_drops_and_bootstraps_the_pooled_rho(monkeypatch) -> None:
    """eval_projection's direction statistics: its pooled ρ is change_metrics's, a fall of P(target) is a drop
    credited to the data set that gained, and the bootstrap interval brackets the pooled ρ."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    from eval_projection import bootstrap_interval, drops

    from scipy.stats import spearmanr

    from ganalyze.evaluation import change_metrics, pooled_spearman

    alphas = np.linspace(-1, 1, 5)
    rng = np.random.default_rng(0)
    cool = np.clip(rng.uniform(0.1, 0.5, (20, 1)) + 0.4 * alphas + rng.normal(0, 0.02, (20, 5)), 0, 1)
    cool[3, 3] = cool[3, 2] - 0.3  # one seed falls at α = 0.5 while 'centered' rises
    centered = 1 - cool
    probabilities = np.stack([np.zeros_like(cool), cool, centered], axis=2)
    inside = np.ones(5, bool)
    rho = pooled_spearman(alphas, cool, inside)
    assert rho == pytest.approx(change_metrics(alphas, cool, inside)["spearman"])
    delta = cool - cool[:, [2]]  # change from α = 0, the grid's middle
    assert rho == pytest.approx(spearmanr(np.broadcast_to(alphas, delta.shape).ravel(), delta.ravel()).statistic)
    report = drops(alphas, probabilities, inside, ["warm", "cool", "centered"], "cool")
    assert (report["count"], report["seed_fraction"], report["moved_to"]) == (1, 0.05, {"warm": 0.0, "centered": 1.0})
    assert report["spearman_seeds_without_drop"] > rho
    low, high = bootstrap_interval(alphas, cool, inside)
    assert low < rho < high
