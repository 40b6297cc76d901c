"""The embedded shapes generator: shipped weights, determinism, safe save/load, prior fit, resumable training."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import hydra
import pytest
import torch
from omegaconf import OmegaConf

from ganalyze.errors import ConfigError, WeightsError
from ganalyze.generators.shapes import TRUNCATED_NORMAL_STD, ShapesEncoder, ShapesGenerator

REPO = Path(__file__).resolve().parent.parent
TINY = {"dim_z": 4, "num_classes": 6, "resolution": 8, "width": 4, "embed_dim": 2, "flow_layers": 2, "flow_hidden": 8}


def tiny_generator(seed: int = 0, trained_flow: bool = True, **overrides: float) -> ShapesGenerator:
    """A randomly initialised miniature generator with fitted Gaussians and (optionally) a non-identity flow."""
    torch.manual_seed(seed)
    g = ShapesGenerator(**{**TINY, **overrides})
    g.fit_latent_gaussians(torch.randn(120, 4) * 2 + 1, torch.arange(120) % 6)
    if trained_flow:
        for layer in g.flow.layers:
            torch.nn.init.normal_(layer.net[-1].weight, std=0.3)
    return g.eval()


def test_shipped_generator_loads_offline_and_gives_images_in_range() -> None:
    g = ShapesGenerator.from_pretrained()
    assert not g.training and not any(p.requires_grad for p in g.parameters())
    z, y = g.sample_latents(12, seed=0)
    with torch.no_grad():
        x = g(z, y)
    assert x.shape == (12, 3, g.resolution, g.resolution) == (12, 3, 32, 32)
    assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    assert x.std() > 0.05  # images, not a constant


def test_generator_is_deterministic_by_seed() -> None:
    g = ShapesGenerator.from_pretrained()
    with torch.no_grad():
        a = g(*g.sample_latents(6, seed=3))
        b = g(*g.sample_latents(6, seed=3))
        c = g(*g.sample_latents(6, seed=4))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_untrained_flow_leaves_the_class_gaussian() -> None:
    g = tiny_generator(trained_flow=False, z_std=0.5)
    z, y = torch.randn(3, 4), torch.tensor([0, 2, 5])
    expected = g.latent_mean[y] + torch.einsum("nij,nj->ni", g.latent_chol[y], z / 0.5)
    assert torch.allclose(g.latent_code(z, y), expected, atol=1e-6)
    assert torch.allclose(g.standardise(expected, y), z / 0.5, atol=1e-5)
    with pytest.raises(ValueError, match="class ids"):
        g(torch.zeros(1, 4), torch.tensor([6]))
    with pytest.raises(ValueError, match="shape"):
        g(torch.zeros(1, 5), torch.tensor([0]))


def test_flow_inverts_exactly_and_its_density_normalises() -> None:
    flow = tiny_generator().flow
    z, y = torch.randn(50, 4), torch.arange(50) % 6
    u = flow(z, y)
    assert not torch.allclose(u, z)
    back = u
    for layer in reversed(flow.layers):
        back, _ = layer.inverse(back, y)
    assert torch.allclose(back, z, atol=1e-5)
    # Monte Carlo: E_{u ~ N(0, I)}[p_flow(u) / N(u)] = 1 for a normalised density p_flow.
    gen = torch.Generator().manual_seed(0)
    probe = torch.randn(200_000, 4, generator=gen)
    labels = torch.zeros(len(probe), dtype=torch.long)
    normal = -0.5 * (probe.pow(2).sum(1) + 4 * math.log(2 * math.pi))
    with torch.no_grad():
        ratio = (flow.log_prob(probe, labels) - normal).exp().mean()
    assert abs(float(ratio) - 1) < 0.1


def test_fit_latent_gaussians_recovers_each_class_gaussian() -> None:
    g = ShapesGenerator(**TINY)
    gen = torch.Generator().manual_seed(0)
    chol = torch.tensor([[1.0, 0, 0, 0], [0.5, 0.8, 0, 0], [0, 0, 2.0, 0], [0, 0, -0.3, 0.4]])
    classes = torch.arange(12000) % 6
    codes = (torch.randn(12000, 4, generator=gen) @ chol.T) + classes[:, None].float()
    g.fit_latent_gaussians(codes, classes)
    assert torch.allclose(g.latent_mean[3], torch.full((4,), 3.0), atol=0.1)
    cov = g.latent_chol[3] @ g.latent_chol[3].T
    assert torch.allclose(cov, chol @ chol.T, atol=0.15)


def test_flow_fits_curved_codes_better_than_a_gaussian(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import train_shapes_generator as script

    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(2000, 4, generator=gen)
    codes[:, 1] = codes[:, 0] ** 2 + 0.1 * codes[:, 1]  # a curved "banana": a Gaussian covers it loosely
    classes = torch.arange(2000) % 6
    cfg = OmegaConf.create({"seed": 0, "progress_interval": 100, "flow": {"steps": 150, "batch_size": 128, "lr": 3e-3}})
    torch.manual_seed(0)
    nll = script.fit_latent_law(ShapesGenerator(**{**TINY, "flow_layers": 2, "flow_hidden": 32}), codes, classes, cfg)
    assert nll["flow"] < nll["gaussian"] - 0.1  # measured 1.49 -> 1.34 in these 150 steps


def test_truncated_normal_std_matches_sample_latents() -> None:
    z, _ = tiny_generator().sample_latents(100_000, seed=0)
    assert abs(float(z.std()) - TRUNCATED_NORMAL_STD) < 0.005


def test_save_and_from_pretrained_round_trip(tmp_path: Path) -> None:
    g = tiny_generator()
    g.save_pretrained(tmp_path / "gen")
    loaded = ShapesGenerator.from_pretrained(tmp_path / "gen")
    assert not loaded.training and loaded.config == g.config
    z, y = g.sample_latents(5, seed=1)
    with torch.no_grad():
        assert torch.equal(loaded(z, y), g(z, y))


def test_missing_or_corrupted_weights_raise_weights_error(tmp_path: Path) -> None:
    folder = tmp_path / "gen"
    with pytest.raises(WeightsError, match="not a folder"):
        ShapesGenerator.from_pretrained(folder)
    tiny_generator().save_pretrained(folder)
    (folder / "model.pt").write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="model.pt"):
        ShapesGenerator.from_pretrained(folder)
    (folder / "model.pt").unlink()
    with pytest.raises(WeightsError, match="no weights file"):
        ShapesGenerator.from_pretrained(folder)
    (folder / "config.json").write_text("{broken")
    with pytest.raises(WeightsError, match="config.json"):
        ShapesGenerator.from_pretrained(folder)


def test_mismatched_weights_name_the_keys(tmp_path: Path) -> None:
    folder = tmp_path / "gen"
    g = tiny_generator()
    g.save_pretrained(folder)
    state = torch.load(folder / "model.pt", weights_only=True)
    state["extra"] = torch.zeros(1)
    del state["latent_mean"]
    torch.save(state, folder / "model.pt")
    with pytest.raises(WeightsError, match=r"missing keys \['latent_mean'\], unexpected keys \['extra'\]"):
        ShapesGenerator.from_pretrained(folder)
    (folder / "config.json").write_text('{"dim_z": 4, "colour": "red"}')
    with pytest.raises(WeightsError, match="does not fit the constructor"):
        ShapesGenerator.from_pretrained(folder)


def test_hydra_config_builds_the_shipped_generator() -> None:
    cfg = OmegaConf.load(REPO / "conf" / "generator" / "shapes.yaml")
    g = hydra.utils.instantiate(cfg)
    assert isinstance(g, ShapesGenerator) and not g.training


def test_encoder_posteriors_in_batches_are_the_whole_batch_posteriors() -> None:
    torch.manual_seed(0)
    encoder = ShapesEncoder(dim_z=4, num_classes=5, resolution=16, width=4, embed_dim=2)
    images, classes = torch.rand(7, 3, 16, 16), torch.tensor([0, 1, 2, 3, 4, 0, 1])
    posteriors = encoder.posteriors(images, classes, batch_size=3)
    mean, logvar = encoder(images, classes)
    assert posteriors.shape == (7, 2, 4) and not posteriors.requires_grad
    torch.testing.assert_close(posteriors, torch.stack([mean, logvar], 1))


def tiny_trainer_config(tmp_path: Path, *overrides: str):
    """The trainer's config shrunk to a few steps of a tiny model (seconds on one core)."""
    cfg = OmegaConf.load(REPO / "conf" / "train_shapes_generator.yaml")
    cfg.merge_with_dotlist(["steps=4", "batch_size=6", "checkpoint_every=2", "fit_samples=120", "model.dim_z=4",
                            "model.resolution=32", "model.width=4", "model.embed_dim=2", "model.flow_layers=0",
                            "progress_interval=100", f"checkpoint={tmp_path / 'c.pt'}", f"out_dir={tmp_path / 'out'}",
                            *overrides])
    return cfg


def train_whole_and_resumed(cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Train ``cfg`` uninterrupted (its step-2 checkpoint kept as step2.pt), then again from a copy of that
    checkpoint; the two output folders."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import train_shapes_generator as script

    real_save = script.save_checkpoint

    def keep_step_two(state: dict, path: Path) -> None:
        real_save(state, path)
        if state["step"] == 2:
            real_save(state, tmp_path / "step2.pt")

    monkeypatch.setattr(script, "save_checkpoint", keep_step_two)
    whole = script.train(cfg)
    shutil.copy(tmp_path / "step2.pt", tmp_path / "resumed.pt")  # step2.pt stays the step-2 state
    resumed = script.train(OmegaConf.merge(cfg, {"checkpoint": str(tmp_path / "resumed.pt"), "resume": True,
                                                 "out_dir": str(tmp_path / "b")}))
    return whole, resumed


def assert_same_weights(a_folder: Path, b_folder: Path) -> None:
    """Both folders' model.pt hold the same tensors."""
    a, b = (torch.load(f / "model.pt", weights_only=True) for f in (a_folder, b_folder))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_resumes_to_the_same_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture) -> None:
    cfg = tiny_trainer_config(tmp_path, "model.flow_layers=2", "model.flow_hidden=8", "flow.steps=5",
                              "flow.batch_size=16")
    whole, resumed = train_whole_and_resumed(cfg, tmp_path, monkeypatch)
    assert "at step 2" in capsys.readouterr().out
    assert_same_weights(whole, resumed)


def test_broadcast_decoder_trains_resumes_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    """The spatial broadcast decoder with IMLE on stars: a run resumed from its step-2 checkpoint ends identical."""
    cfg = tiny_trainer_config(tmp_path, "variant=rare_class", "model.decoder=broadcast", "model.decoder_depth=3",
                              "model.frame=true", "model.fourier=2",
                              "imle.weight=1", "imle.interpolation_weight=0.5", "imle.minority.shape=star",
                              "imle.real_pool=300", "imle.batch_size=4", "imle.pool_size=8", "imle.feature_resolution=8",
                              "fit_samples=1200")
    whole, resumed = train_whole_and_resumed(cfg, tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert "at step 2" in out and "minority set:" in out
    assert_same_weights(whole, resumed)
    g = ShapesGenerator.from_pretrained(whole)
    assert g.config["decoder"] == "broadcast"
    with torch.no_grad():
        x = g(*g.sample_latents(6, seed=0))
    assert x.shape == (6, 3, 32, 32) and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize(("pool_law", "match"), [("fitted", "features"), ("fitted", "code"), ("posterior", "code")])
def test_imle_pool_from_the_minority_codes_resumes_identically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               pool_law: str, match: str) -> None:
    """The minority set is re-encoded every 3 steps (the pool drawn from the Gaussian fitted to its codes, or from its
    posteriors); resuming at step 2 needs the encoding of step 0, which the checkpoint keeps."""
    cfg = tiny_trainer_config(tmp_path, "variant=rare_square", "model.decoder=broadcast", "model.decoder_depth=2",
                              "imle.weight=1", "imle.minority.shape=square", f"imle.pool_law={pool_law}",
                              "imle.refit_every=3", "imle.real_pool=1000", "imle.batch_size=4", "imle.pool_size=8",
                              "imle.feature_resolution=8", f"imle.match={match}")
    whole, resumed = train_whole_and_resumed(cfg, tmp_path, monkeypatch)
    assert_same_weights(whole, resumed)
    posteriors = torch.load(tmp_path / "step2.pt", weights_only=True)["minority_posteriors"]
    assert posteriors.shape[1:] == (2, 4) and 15 < len(posteriors) < 80  # mean and log-variance of the ~4% squares
    assert posteriors[:, 1].exp().max() < 10 and not torch.equal(posteriors[:, 0], torch.zeros_like(posteriors[:, 0]))


def test_imle_start_step_trains_on_the_data_alone_until_then(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With imle.start_step=3 the first 3 steps are the baseline's (its step-2 checkpoint is the baseline's, with no
    minority posteriors yet), the IMLE terms change step 3, and resuming from step 2 across the start ends identical."""
    imle = ["imle.weight=1", "imle.minority.shape=square", "imle.pool_law=posterior", "imle.match=code",
            "imle.real_pool=1000", "imle.batch_size=4", "imle.pool_size=8", "imle.start_step=3"]
    base_dir, imle_dir = tmp_path / "base", tmp_path / "imle"
    base_dir.mkdir(), imle_dir.mkdir()
    shared = ["variant=rare_square", "model.decoder=broadcast", "model.decoder_depth=2"]
    baseline, _ = train_whole_and_resumed(tiny_trainer_config(base_dir, *shared), base_dir, monkeypatch)
    whole, resumed = train_whole_and_resumed(tiny_trainer_config(imle_dir, *shared, *imle), imle_dir, monkeypatch)
    assert_same_weights(whole, resumed)
    base2, imle2 = (torch.load(d / "step2.pt", weights_only=True) for d in (base_dir, imle_dir))
    assert imle2["minority_posteriors"] is None
    assert all(torch.equal(base2["decoder"][k], imle2["decoder"][k]) for k in base2["decoder"])
    a, b = (torch.load(f / "model.pt", weights_only=True) for f in (baseline, whole))
    assert not all(torch.equal(a[k], b[k]) for k in a)


def test_gan_loss_trains_resumes_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    """The decoder trained as a GAN generator with IMLE on squares: resumed from step 2 it ends identical, and it
    loads as a shapes generator whose latent law is the prior (no fitted Gaussians)."""
    cfg = tiny_trainer_config(tmp_path, "loss=gan", "variant=rare_square", "gan.discriminator_width=4",
                              "imle.weight=1", "imle.interpolation_weight=0.5", "imle.minority.shape=square",
                              "imle.real_pool=300", "imle.batch_size=4", "imle.pool_size=8", "imle.feature_resolution=8")
    whole, resumed = train_whole_and_resumed(cfg, tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert "at step 2" in out and "minority set:" in out
    assert_same_weights(whole, resumed)
    g = ShapesGenerator.from_pretrained(whole)
    assert torch.equal(g.latent_mean, torch.zeros_like(g.latent_mean))
    with torch.no_grad():
        x = g(*g.sample_latents(6, seed=0))
    assert x.shape == (6, 3, 32, 32) and x.min() >= 0 and x.max() <= 1
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert {"decoder", "discriminator", "optimizer_g", "optimizer_d"} <= set(state)


def test_discriminator_projects_the_class_and_hinge_losses_have_their_margins() -> None:
    from ganalyze.generators.shapes_discriminator import (ShapesDiscriminator, hinge_discriminator_loss,
                                                          hinge_generator_loss)

    torch.manual_seed(0)
    d = ShapesDiscriminator(num_classes=6, resolution=16, width=4)
    x = torch.rand(3, 3, 16, 16)
    a, b = d(x, torch.tensor([0, 0, 0])), d(x, torch.tensor([5, 5, 5]))
    assert a.shape == (3,) and not torch.allclose(a, b)  # the class changes the score
    assert float(hinge_discriminator_loss(torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0]))) == pytest.approx(0.25 + 0.5)
    assert float(hinge_generator_loss(torch.tensor([1.0, 3.0]))) == -2.0
    with pytest.raises(ValueError, match="power of two"):
        ShapesDiscriminator(6, resolution=24)


@pytest.mark.parametrize(("overrides", "message"), [
    (["loss=wgan"], "loss='wgan' is not known"),
    (["loss=gan", "model.flow_layers=2"], "needs model.flow_layers=0"),
    (["imle.pool_law=nearest"], "imle.pool_law='nearest' is not known"),
    (["loss=gan", "imle.pool_law=fitted"], "loss=gan trains no encoder, but imle.pool_law=fitted draw"),
    (["loss=gan", "imle.pool_law=posterior"], "loss=gan trains no encoder, but imle.pool_law=posterior draw"),
    (["imle.match=pixels"], "imle.match='pixels' is not known"),
    (["imle.start_step=4"], r"imle.start_step=4 must be in \[0, steps=4\)"),
    (["loss=gan", "imle.match=code"], "loss=gan trains no encoder, but imle.match=code draw"),
    (["loss=gan", "imle.pool_law=fitted", "imle.match=code"], "but imle.pool_law=fitted and imle.match=code draw"),
    (["imle.weight=1", "imle.minority.shape=hexagon"], "not a shape of the world"),
    (["imle.weight=1"], "exactly one of"),
    (["imle.weight=1", "imle.minority.factor=size", "imle.minority.low=0.9", "imle.minority.high=1.0"],
     "selects 0 of the"),
    (["imle.weight=1", "imle.minority.shape=star", "imle.pool_size=2"], "pool_size"),
    (["imle.weight=1", "imle.minority.shape=star", "variant=[broad,warm]"], "one world variant"),
])
def test_bad_trainer_settings_fail_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: list[str],
                                                message: str) -> None:
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import train_shapes_generator as script

    with pytest.raises(ConfigError, match=message):
        script.train(tiny_trainer_config(tmp_path, "imle.real_pool=200", *overrides))
    assert not (tmp_path / "c.pt").exists()


def test_unknown_decoder_and_bad_broadcast_options_are_refused() -> None:
    with pytest.raises(ValueError, match="decoder must be one of"):
        ShapesGenerator(**TINY, decoder="pixelcnn")
    with pytest.raises(ValueError, match="together with frame=True"):
        ShapesGenerator(**TINY, decoder="broadcast", fourier=2)
    with pytest.raises(ValueError, match="depth must be at least 2"):
        ShapesGenerator(**TINY, decoder="broadcast", decoder_depth=1)
    with pytest.raises(ValueError, match="image_fourier must be 0"):
        ShapesGenerator(**TINY, decoder="broadcast", image_fourier=-1)


def test_broadcast_frame_follows_the_predicted_shift() -> None:
    """With frame=True, moving the frame's shift moves the drawn picture by the same amount (whole pixels)."""
    torch.manual_seed(0)
    g = ShapesGenerator(**{**TINY, "resolution": 16}, decoder="broadcast", frame=True, fourier=2, decoder_depth=2)
    dec = g.decoder
    torch.nn.init.zeros_(dec.coords_in.weight[:, :2])  # only the frame's coordinates reach the pixels
    w, y = torch.zeros(1, 4), torch.tensor([0])
    with torch.no_grad():
        still = dec(w, y)
        dec.frame.bias[0] = 4 * 2 / 15  # four pixels to the right (the grid spans [-1, 1] over 15 steps)
        moved = dec(w, y)
    assert torch.allclose(moved[..., 4:], still[..., :-4], atol=1e-5)
    assert not torch.allclose(moved, still, atol=1e-3)


def test_broadcast_image_waves_stay_put_when_the_frame_moves() -> None:
    """image_fourier's sines are of the image's own coordinates: with only them reaching the pixels, moving the
    object's frame changes nothing (while the waves themselves do draw a pattern)."""
    torch.manual_seed(0)
    g = ShapesGenerator(**{**TINY, "resolution": 16}, decoder="broadcast", frame=True, fourier=2, image_fourier=2,
                        decoder_depth=2)
    dec = g.decoder
    assert dec.coords_in.in_channels == 2 + 8 + 2 + 8  # image x, y; its 2 octaves; frame x, y; theirs
    with torch.no_grad():
        dec.coords_in.weight[:, :2].zero_()
        dec.coords_in.weight[:, 10:].zero_()  # only the image's waves reach the pixels
        w, y = torch.zeros(1, 4), torch.tensor([0])
        still = dec(w, y)
        dec.frame.bias[0] = 4 * 2 / 15
        assert torch.allclose(dec(w, y), still, atol=1e-6)
    assert not torch.allclose(still[..., 0], still[..., 5], atol=1e-3)  # the waves do draw something


def test_a_class_without_codes_keeps_its_prior_and_quality_asks_only_the_worlds_shapes(tmp_path: Path) -> None:
    # rare_square has four shapes: star and cross get no codes, and ganalyze-quality must neither judge nor draw them
    from PIL import Image

    from ganalyze.world.classifier import ShapeClassifier
    from ganalyze.world.quality import quality_report, save_sample_grid

    torch.manual_seed(0)
    g = ShapesGenerator(**{**TINY, "resolution": 32})
    codes, classes = torch.randn(80, 4), torch.arange(80) % 4
    g.fit_latent_gaussians(codes, classes)
    assert torch.allclose(g.latent_mean[1], codes[classes == 1].mean(0))
    assert torch.equal(g.latent_mean[4:], torch.zeros(2, 4))
    assert torch.equal(g.latent_chol[4:], torch.eye(4).repeat(2, 1, 1))
    with pytest.raises(ValueError, match="class 0 needs more than 4 codes"):
        g.fit_latent_gaussians(codes[:8], classes[:8])
    report = quality_report(g.eval(), num_samples=24, variant="rare_square", classifier=ShapeClassifier.from_pretrained(),
                            out_dir=tmp_path / "q")
    assert set(report["class_accuracy"]["generated_per_class"]) == {"circle", "square", "triangle", "diamond"}
    four = Image.open(tmp_path / "q" / "samples.png").size  # one row per shape of the world, 2x32 px + 2 px each
    six = Image.open(save_sample_grid(g, tmp_path / "all.png")).size
    assert four[0] == six[0] and six[1] - four[1] == 2 * (64 + 2)


def test_the_trainers_command_line_takes_the_gan_and_imle_overrides() -> None:
    """Composed as the CLI does (a key named like one of ganalyze's config groups would be refused here)."""
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="ganalyze.conf", version_base=None):
        cfg = compose("train_shapes_generator", overrides=["loss=gan", "gan.discriminator_width=8", "variant=rare_square",
                                                           "imle.weight=1", "imle.minority.shape=square"])
    assert cfg.loss == "gan" and cfg.gan.discriminator_width == 8 and cfg.imle.minority.shape == "square"


def test_judge_measures_whether_the_frame_tracks_the_true_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame whose shift reads the true x from the code correlates 1 with it; its constant scale has no correlation."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import judge_generator_checkpoint as judge_script

    from ganalyze.world import load_variant

    g = ShapesGenerator(**{**TINY, "resolution": 16}, decoder="broadcast", frame=True, decoder_depth=2)
    factors = load_variant("broad").sample_factors(50, seed=0)
    codes = torch.zeros(50, 4)
    codes[:, 0] = factors.x
    codes[:, 1] = factors.size
    with torch.no_grad():
        g.decoder.frame.weight.zero_()
        g.decoder.frame.weight[0, 0] = 2.0  # shift x = 2·x
        g.decoder.frame.weight[1, 1] = -1.0  # shift y = -size: unrelated to y
    fit = judge_script.frame_fit(g, codes, factors.class_id.long(), factors)
    assert fit["frame_corr_x"] == pytest.approx(1.0) and abs(fit["frame_corr_y"]) < 0.5
    assert judge_script.frame_fit(ShapesGenerator(**TINY), codes, factors.class_id.long(), factors) == {}


def test_judge_compares_prior_draws_with_each_class_law(monkeypatch: pytest.MonkeyPatch) -> None:
    """N(0, I) draws score like the law's own draws when the law is N(0, I), far lower when it is narrow elsewhere."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    import judge_generator_checkpoint as judge_script

    g = ShapesGenerator(**TINY)
    g.latent_mean[1] = 5.0
    g.latent_chol[1] = 0.1 * torch.eye(4)
    out = judge_script.prior_draws_log_density(g, (0, 1))
    expected = -2 * math.log(2 * math.pi) - 2  # E log N(z; 0, I) in 4 dimensions
    assert out["circle"] == pytest.approx([expected, expected], abs=0.2)
    assert out["square"][0] < -1000 < out["square"][1]
