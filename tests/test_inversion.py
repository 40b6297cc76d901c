"""Inversion and real-image editing: a tiny random BigGAN's own samples come back, the shapes world's rendered
images invert with their class, ganalyze-edit and edit_images run end to end, and bad images are refused."""

import json
from importlib.resources import files

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from ganalyze.build import build_assessor, build_generator
from ganalyze.cli import edit as edit_cli
from ganalyze.errors import ConfigError
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.inversion import images as image_io
from ganalyze.inversion.edit import edit_images
from ganalyze.inversion.encoder import LatentEncoder, encoder_for
from ganalyze.inversion.inverter import Inverter
from ganalyze.inversion.loss import psnr
from ganalyze.inversion.optimise import latent_bound
from ganalyze.settings import compose_config, to_settings
from ganalyze.transformers import LinearTransformer
from ganalyze.visuals import to_pil
from ganalyze.world import load_variant

TINY_PSNR = 35.0  # dB: the tiny BigGAN's own samples recovered by 60 Adam steps from 2 random starts
FAST = {"steps": 60, "starts": 2, "lr": 0.1, "encoder": None}


def config(group: str, name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(files("ganalyze.conf").joinpath(f"{group}/{name}.yaml")))


@pytest.fixture(scope="module")
def tiny():
    return build_generator(config("generator", "tiny_biggan"))


def test_tiny_biggan_samples_are_recovered(tiny):
    z, y = tiny.sample_latents(2, seed=3)
    images = tiny(z, y)
    other, _ = tiny.sample_latents(2, seed=4)
    inversion = Inverter(**FAST)(tiny, images, classes=y)
    recovered = psnr(inversion.reconstruction, images)
    assert (recovered >= TINY_PSNR).all(), recovered
    assert (recovered > psnr(tiny(other, y), images) + 10).all()  # far better than a random latent of the class
    assert inversion.z.abs().max() <= latent_bound(tiny) and torch.equal(inversion.y, y)


def test_best_of_all_classes_when_the_generator_has_few(tiny):
    z, y = tiny.sample_latents(1, seed=3)
    inversion = Inverter(steps=30, starts=1, lr=0.1, encoder=None, class_choice="top_k", top_k=10)(tiny, tiny(z, y))
    assert inversion.y.shape == (1,) and float(psnr(inversion.reconstruction, tiny(z, y))) > 30
    with pytest.raises(ConfigError, match="needs a classifier"):
        Inverter(encoder=None)(tiny, tiny(z, y))  # class_choice=classifier, none shipped for BigGAN


def test_shapes_world_rendered_images_invert_with_their_class():
    generator = ShapesGenerator.from_pretrained()
    images, factors = load_variant("broad").sample(6, seed=7_000_000_123)
    inversion = Inverter(steps=40)(generator, images)  # shipped encoder start, classifier's class
    assert torch.equal(inversion.y, factors.class_id.long())
    assert float(psnr(inversion.reconstruction, images).mean()) > 25


def test_shipped_encoder_fits_only_its_generator(tiny):
    generator = ShapesGenerator.from_pretrained()
    assert isinstance(encoder_for(generator, "auto"), LatentEncoder)
    assert encoder_for(tiny, "auto") is None
    other = ShapesGenerator()  # same sizes, other weights
    assert encoder_for(other, "auto") is None


def test_edit_images_walks_inverted_images(tiny):
    transformer = LinearTransformer(tiny.dim_z, init_std=0.5)
    assessor = build_assessor(config("assessor", "brightness"))
    z, y = tiny.sample_latents(2, seed=5)
    inverter = Inverter(steps=10, lr=0.1, encoder=None)
    result = edit_images(tiny, transformer, assessor, tiny(z, y), [-1.0, 1.0], inverter=inverter, classes=y)
    assert result.alphas.tolist() == [-1.0, 0.0, 1.0] and result.edits.shape == (2, 3, 3, 32, 32)
    assert np.allclose(result.sweep.scores[:, 1], [row["score_reconstruction"] for row in result.report], atol=1e-5)
    assert len(result.rows()) == 6 and all(row["score_change"] == 0 for row in result.rows() if row["alpha"] == 0)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run folder as ganalyze-train leaves it: config.yaml and a saved transformer (here not trained)."""
    run_dir = tmp_path_factory.mktemp("edit") / "run"
    settings = to_settings(compose_config(["generator=tiny_biggan", "assessor=brightness", "logger=none",
                                           f"run_dir={run_dir}"]))
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(settings)))
    LinearTransformer(16, init_std=0.5).save_pretrained(run_dir / "transformer")
    return run_dir


def write_bytes(path, data):
    path.write_bytes(data)
    return path


def write_png(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


def run_cli(capsys, *args):
    code = 0
    try:
        edit_cli.main(list(args))
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ganalyze_edit_end_to_end(tiny_run, tmp_path, capsys, tiny):
    folder = tmp_path / "images"
    folder.mkdir()
    z, y = tiny.sample_latents(2, seed=9)
    for i, image in enumerate(tiny(z, y)):
        to_pil(image).save(folder / f"sample{i}.png")
    grey = (np.asarray(to_pil(tiny(z, y)[0])).mean(2)).astype(np.uint8)
    write_png(folder / "grey.png", np.tile(grey, (1, 2)))  # greyscale and not square: converted and cropped
    (folder / "notes.txt").write_text("not an image, and not picked from a folder")
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, f"run_dir={tiny_run}", f"images={folder}", "alphas=[-1,1]", f"out={out}",
                                "classes=[3]", "inverter.steps=20", "inverter.lr=0.1")
    assert code == 0, err
    assert sorted(p.name for p in (out / "strips").iterdir()) == ["000_grey.png", "001_sample0.png", "002_sample1.png"]
    payload = json.loads((out / "edits.json").read_text())
    assert payload["alphas"] == [-1.0, 0.0, 1.0] and len(payload["images"]) == 3
    assert "converted L to RGB" in payload["images"][0]["note"] and "centre-cropped" in payload["images"][0]["note"]
    assert all(image["reconstruction"]["class"] == 3 for image in payload["images"])
    assert len((out / "edits.csv").read_text().strip().splitlines()) == 1 + 9
    assert "s per image" in stdout


@pytest.mark.parametrize("make, message", [
    (lambda d: write_png(d / "one.png", np.zeros((1, 1, 3), np.uint8)), "at least 8×8"),
    (lambda d: write_png(d / "clear.png", np.zeros((16, 16, 4), np.uint8)), "transparent pixels"),
    (lambda d: write_png(d / "deep.png", np.zeros((16, 16), np.uint16)), "pixel mode"),
    (lambda d: write_bytes(d / "fake.png", b"this is text, not a PNG"), "not an image"),
    (lambda d: d / "empty", "holds no image files"),
    (lambda d: d / "missing.png", "neither a file nor a folder"),
])
def test_bad_images_get_one_paragraph_and_exit_2(tiny_run, tmp_path, capsys, make, message):
    (tmp_path / "empty").mkdir()
    path = make(tmp_path)
    code, _, err = run_cli(capsys, f"run_dir={tiny_run}", f"images={path}", f"out={tmp_path / 'out'}")
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_decompression_bombs_and_opaque_alpha(tmp_path, monkeypatch):
    big = write_png(tmp_path / "big.png", np.zeros((64, 64, 3), np.uint8))
    monkeypatch.setattr(image_io, "MAX_PIXELS", 1000)
    with pytest.raises(ConfigError, match="decompression bomb"):
        image_io.load_images(big, 32)
    opaque = np.full((16, 16, 4), 255, np.uint8)
    loaded = image_io.load_images(write_png(tmp_path / "opaque.png", opaque), 32)
    assert loaded.images.shape == (1, 3, 32, 32) and "RGBA" in loaded.notes[0]
    palette = Image.fromarray(np.zeros((16, 16, 3), np.uint8)).convert("P")
    palette.save(tmp_path / "palette.png")
    assert image_io.load_images(tmp_path / "palette.png", 32).images.shape == (1, 3, 32, 32)


@pytest.mark.parametrize("args, message", [
    (["alphas=[a,b]"], "alphas must be a non-empty list of finite numbers"),
    (["inverter=fastest"], "unknown inverter 'fastest'"),
    (["inverter.stpes=5"], "bad inverter setting"),
    (["colour=red"], "has no setting 'colour'"),
    (["classes=[12]"], "out of range"),
])
def test_bad_settings_get_one_paragraph(tiny_run, tmp_path, capsys, tiny, args, message):
    to_pil(tiny(*tiny.sample_latents(1, seed=1))[0]).save(tmp_path / "x.png")
    code, _, err = run_cli(capsys, f"run_dir={tiny_run}", f"images={tmp_path / 'x.png'}", f"out={tmp_path / 'o'}",
                           "inverter.steps=1", *args)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1


def test_encoder_training_resumes_and_writes_a_loadable_encoder(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("train_shapes_encoder",
                                                  Path(__file__).parent.parent / "scripts/train_shapes_encoder.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(script, "heldout_report", lambda *a, **k: {"heldout_psnr_encoder_only": 0.0, "n": 0})
    common = ["--batch-size", "4", "--checkpoint", str(tmp_path / "ck.pt"), "--checkpoint-every", "1"]
    script.train(script.parse_args([*common, "--steps", "1", "--out", str(tmp_path / "one")]))
    resumed = script.train(script.parse_args([*common, "--steps", "2", "--out", str(tmp_path / "two")]))
    straight = script.train(script.parse_args(["--batch-size", "4", "--checkpoint", str(tmp_path / "other.pt"),
                                               "--steps", "2", "--out", str(tmp_path / "straight")]))
    a, b = LatentEncoder.from_pretrained(resumed), LatentEncoder.from_pretrained(straight)
    assert all(torch.allclose(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.fits(ShapesGenerator.from_pretrained())
