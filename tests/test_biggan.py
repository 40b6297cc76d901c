"""BigGAN-deep: random networks usable in eval mode, strict safe loading from a local folder, clear errors,
classes by name, and a training step + checkpoint/resume + short evaluation on a random BigGAN-deep-128."""

import json
from importlib.resources import files

import pytest
import torch
from omegaconf import OmegaConf

from assessors import create_assessor
from ganalyze.build import build_generator
from ganalyze.errors import ConfigError, UnknownNameError, WeightsError
from ganalyze.evaluation import EvalSettings, evaluate
from ganalyze.generators.biggan import CONFIG_FILE, WEIGHTS_FILE, BigGANGenerator
from ganalyze.generators.classes import imagenet_class_names, resolve_classes
from ganalyze.objectives import ScoreObjective
from ganalyze.training import TrainSettings, resume_state, train
from ganalyze.transformers import LinearTransformer


def generator_config(name: str) -> dict:
    return OmegaConf.to_container(OmegaConf.load(files("ganalyze.conf").joinpath(f"generator/{name}.yaml")))


@pytest.fixture(scope="module")
def tiny():
    return build_generator(generator_config("tiny_biggan"))


def write_weights(generator: BigGANGenerator, folder, state=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(generator_config("tiny_biggan")["architecture"]))
    torch.save(generator.model.state_dict() if state is None else state, folder / WEIGHTS_FILE)
    return folder


def tiny_pretrained(folder) -> BigGANGenerator:
    return BigGANGenerator(generator_config("tiny_biggan")["architecture"], weights=str(folder), pretrained=True,
                           name="tiny_biggan")


def test_random_tiny_biggan_is_frozen_finite_and_seeded(tiny):
    z, y = tiny.sample_latents(3, seed=1)
    images = tiny(z, y)
    assert images.shape == (3, 3, 32, 32) and torch.isfinite(images).all()
    assert 0 <= images.min() and images.max() <= 1 and images.std() > 0.01
    assert not tiny.training and not any(p.requires_grad for p in tiny.parameters())
    again = build_generator(generator_config("tiny_biggan"))
    assert torch.equal(again(z, y), images)


def test_weights_load_strictly_and_give_the_same_images(tiny, tmp_path):
    loaded = tiny_pretrained(write_weights(tiny, tmp_path / "w"))
    z, y = tiny.sample_latents(2, seed=3)
    assert not loaded.training and torch.equal(loaded(z, y), tiny(z, y))


def test_the_older_published_spectral_norm_layout_loads(tiny, tmp_path):
    """The published files predate weight_v: they hold weight, weight_orig and weight_u; torch converts them."""
    state = tiny.model.state_dict()
    old = {k: v for k, v in state.items() if not k.endswith("weight_v")}
    for key in [k for k in state if k.endswith("weight_orig")]:
        module = tiny.model.get_submodule(key.rsplit(".", 1)[0])
        old[key.replace("weight_orig", "weight")] = module.weight.detach().clone()
    loaded = tiny_pretrained(write_weights(tiny, tmp_path / "old", old))
    z, y = tiny.sample_latents(2, seed=4)
    assert torch.allclose(loaded(z, y), tiny(z, y), atol=1e-5)


def test_missing_unexpected_misshaped_and_corrupted_weights_fail_clearly(tiny, tmp_path):
    state = tiny.model.state_dict()
    missing = {k: v for k, v in state.items() if k != "embeddings.weight"}
    with pytest.raises(WeightsError, match=r"missing keys 1 \(embeddings.weight\), unexpected keys 0"):
        tiny_pretrained(write_weights(tiny, tmp_path / "a", missing))
    with pytest.raises(WeightsError, match=r"unexpected keys 1 \(extra.weight\)"):
        tiny_pretrained(write_weights(tiny, tmp_path / "b", {**state, "extra.weight": torch.zeros(1)}))
    with pytest.raises(WeightsError, match="embeddings.weight"):
        tiny_pretrained(write_weights(tiny, tmp_path / "c", {**state, "embeddings.weight": torch.zeros(3, 3)}))
    folder = write_weights(tiny, tmp_path / "d")
    (folder / WEIGHTS_FILE).write_bytes(b"\x00garbage")
    with pytest.raises(WeightsError, match="corrupted or not a safe state dict"):
        tiny_pretrained(folder)


def test_no_weights_names_the_files_and_where_to_get_them(tmp_path):
    config = generator_config("biggan_deep_128")
    with pytest.raises(WeightsError, match=r"generator.weights is not set.*downloads are switched off.*"
                                           r"biggan-deep-128-config.json.*biggan-deep-128-pytorch_model.bin.*"
                                           r"pretrained=false"):
        build_generator(config)  # the suite runs offline (tests/conftest.py)
    with pytest.raises(WeightsError, match="no config.json in"):
        build_generator({**config, "weights": str(tmp_path)})


def test_weights_of_another_resolution_are_refused(tiny, tmp_path):
    folder = write_weights(tiny, tmp_path / "w")
    with pytest.raises(WeightsError, match="describes a 32 px BigGAN.*generator=biggan_deep_32"):
        build_generator({**generator_config("biggan_deep_128"), "weights": str(folder)})


def test_classes_by_index_or_imagenet_name():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[1] == "goldfish" and names[999] == "toilet tissue"
    assert resolve_classes(["goldfish", 207, "Golden Retriever"], 1000, names) == [1, 207, 207]
    with pytest.raises(UnknownNameError, match="'goldfsh' .did you mean 'goldfish'.*id 0-999"):
        resolve_classes(["goldfsh"], 1000, names)
    with pytest.raises(ConfigError, match="class id 1000 is out of range"):
        resolve_classes([1000], 1000, names)


def test_train_resume_and_evaluate_on_a_random_biggan_deep_128(tmp_path):
    """A training step with a checkpoint, a resumed second step, and a short evaluation (batch 1, slow on CPU)."""
    generator = build_generator({**generator_config("biggan_deep_128"), "pretrained": False})
    assert generator.resolution == 128 and generator.class_names[1] == "goldfish"
    objective = ScoreObjective(create_assessor("brightness"))
    settings = TrainSettings(steps=1, batch_size=1, lr=0.05, classes=[1])
    torch.manual_seed(0)
    transformer = LinearTransformer(generator.dim_z)
    start = transformer.theta.detach().clone()
    train(generator, transformer, objective, settings, tmp_path, {"k": 1})
    after_one = transformer.theta.detach().clone()
    checkpoint = resume_state(tmp_path, {"k": 1}, resume=True)
    assert checkpoint["step"] == 1 and torch.equal(checkpoint["transformer"]["theta"], after_one)
    resumed = LinearTransformer(generator.dim_z)
    state = train(generator, resumed, objective, TrainSettings(**{**settings.__dict__, "steps": 2}), tmp_path, {"k": 1},
                  checkpoint=checkpoint)
    assert len(state.losses) == 2 and not torch.equal(after_one, start) and not torch.equal(resumed.theta, after_one)

    evaluation = evaluate(generator, resumed, objective.assessor, (-0.1, 0.1),
                          EvalSettings(num_seeds=1, alpha_scale=1.0, num_alphas=3, classes=[1]))
    assert evaluation.alphas.tolist() == [-0.1, 0.0, 0.1] and evaluation.classes.tolist() == [1]
    assert evaluation.sweeps["trained"].scores.shape == (1, 3) and set(evaluation.metrics) == {"trained", "random"}
