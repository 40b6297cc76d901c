"""MemNet: published-format state dicts load through the real loader; preprocessing, ten-crop and score are right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.io import savemat
from torch.nn import functional as F

from caffenet_reference import TRUNK_SHAPES, random_state, trunk_reference

from assessors import create_assessor
from assessors.caffenet import IMAGENET_BGR_MEANS, load_mean_image, ten_crop
from assessors.memnet import MemNet, MemNetModel
from ganalyze.errors import ConfigError, WeightsError

torch.set_num_threads(1)

PUBLISHED_SHAPES = {**TRUNK_SHAPES, "fc8.weight": (1, 4096), "fc8.bias": (1,)}


def published_state_dict() -> dict[str, torch.Tensor]:
    """Random weights of the published keys and shapes; fc8 gives a small spread around the calibration point."""
    state = random_state(PUBLISHED_SHAPES, seed=0)
    state["fc8.weight"] *= 0.02
    state["fc8.bias"] = torch.tensor([0.75])
    return state


@pytest.fixture(scope="module")
def state():
    return published_state_dict()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("memnet") / "memnet.pt"
    torch.save(state, path)
    yield path
    path.unlink()  # 230 MB: do not leave it among pytest's kept temporary folders


@pytest.fixture(scope="module")
def memnet(weights_file):
    return create_assessor("memnet", weights=str(weights_file))


def reference_scores(state: dict[str, torch.Tensor], mean: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The release's pipeline written out per image and per crop (the loop the package avoids)."""
    scores = []
    for image in images:
        x = image.flip(0)[None] * 255.0
        x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False, antialias=True)[0]
        x = x - mean
        outputs = []
        for top, left in [(0, 0), (0, 29), (29, 0), (29, 29), (14, 14)]:
            crop = x[:, top : top + 227, left : left + 227]
            for view in (crop, crop.flip(-1)):
                fc7 = trunk_reference(state, view[None])
                outputs.append(F.linear(fc7, state["fc8.weight"], state["fc8.bias"])[0, 0])
        raw = torch.stack(outputs).mean()
        scores.append(torch.clamp((raw - 0.7626) * 2 + 0.65, 0, 1))
    return torch.stack(scores)


def test_loads_published_format_and_matches_the_per_crop_reference(memnet, state):
    assert not memnet.training and memnet.score_range == (0.0, 1.0)
    images = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(1)).requires_grad_()
    scores = memnet(images)
    with torch.no_grad():
        expected = reference_scores(state, torch.tensor([104.0, 117.0, 123.0]).view(3, 1, 1), images)
    assert scores.shape == (2,)
    assert torch.all((scores > 0) & (scores < 1)), "test weights should give unclipped scores"
    torch.testing.assert_close(scores.detach(), expected, rtol=1e-4, atol=1e-5)
    scores.sum().backward()  # frozen weights, but gradients reach the images
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_ten_crop_is_corners_centre_and_mirrors_in_one_batch():
    x = torch.arange(2 * 256 * 256, dtype=torch.float32).view(2, 1, 256, 256)
    crops = ten_crop(x, 227)
    assert crops.shape == (20, 1, 227, 227)
    grouped = crops.view(10, 2, 1, 227, 227)
    torch.testing.assert_close(grouped[0, 1], x[1, :, :227, :227])
    torch.testing.assert_close(grouped[3, 0], x[0, :, 29:, 29:])
    torch.testing.assert_close(grouped[4, 1], x[1, :, 14:241, 14:241])
    torch.testing.assert_close(grouped[5:], grouped[:5].flip(-1))


def test_preprocessing_is_bgr_0_255_minus_the_mean_image(tmp_path):
    mean = np.random.default_rng(0).uniform(90, 130, size=(256, 256, 3)).astype(np.float32)
    np.save(tmp_path / "mean.npy", mean.transpose(2, 0, 1))
    savemat(tmp_path / "mean.mat", {"image_mean": mean})
    from_npy, from_mat = load_mean_image(tmp_path / "mean.npy", 256), load_mean_image(tmp_path / "mean.mat", 256)
    torch.testing.assert_close(from_npy, from_mat)
    torch.testing.assert_close(load_mean_image(None, 256)[:, 0, 0], torch.tensor(IMAGENET_BGR_MEANS))

    model = MemNet(pretrained=False, mean_image=tmp_path / "mean.mat")
    red = torch.zeros(1, 3, 256, 256)
    red[:, 0] = 1.0
    crops = model.preprocess(red)  # (10, 3, 227, 227), BGR: red is the last channel
    centre = crops[4, :, 0, 0]
    expected = torch.tensor([0.0, 0.0, 255.0]) - torch.from_numpy(mean[14, 14])
    torch.testing.assert_close(centre, expected)


def test_missing_or_absent_weights_name_the_file_and_its_source(tmp_path):
    with pytest.raises(WeightsError, match="GANalyze authors"):
        create_assessor("memnet")
    with pytest.raises(WeightsError) as err:
        create_assessor("memnet", weights=str(tmp_path / "nowhere.pt"))
    assert "nowhere.pt" in str(err.value) and "GANalyze authors published" in str(err.value)
    with pytest.raises(ConfigError, match="pretrained=false"):
        MemNet(weights=tmp_path / "x.pt", pretrained=False)


def test_mismatched_state_dict_lists_missing_unexpected_and_misshaped_keys(tmp_path):
    state = {"conv1.weight": torch.zeros(64, 3, 11, 11), "conv1.bias": torch.zeros(96), "fc9.weight": torch.zeros(1)}
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(WeightsError) as err:
        MemNet(weights=tmp_path / "bad.pt")
    message = str(err.value)
    assert "missing keys ['conv2.bias', 'conv2.weight'" in message and "'fc8.bias'" in message
    assert "unexpected keys ['fc9.weight']" in message
    assert "conv1.weight (file (64, 3, 11, 11), model (96, 3, 11, 11))" in message


@pytest.mark.parametrize("content", [b"not a torch file", "pickled_object", "not_a_dict"])
def test_files_that_are_not_safe_state_dicts_are_rejected(tmp_path, content):
    path = tmp_path / "weights.pt"
    if content == "pickled_object":  # a pickled class instance: weights_only=True refuses to build it
        torch.save({"conv1.weight": torch.nn.Linear(2, 2)}, path)
    elif content == "not_a_dict":
        torch.save([torch.zeros(1)], path)
    else:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match="weights.pt"):
        MemNet(weights=path)


def test_key_map_loads_a_state_dict_saved_under_other_names(tmp_path, state):
    renamed = {("module.features." + k if k.startswith("conv") else "module." + k): v for k, v in state.items()}
    renamed["module.classifier.weight"] = renamed.pop("module.fc8.weight")
    renamed["module.classifier.bias"] = renamed.pop("module.fc8.bias")
    torch.save(renamed, tmp_path / "renamed.pt")
    with pytest.raises(WeightsError, match="key_map"):
        MemNet(weights=tmp_path / "renamed.pt")
    model = MemNet(weights=tmp_path / "renamed.pt",
                   key_map={"module.features": "", "module.classifier": "fc8", "module": ""})
    for key, value in model.net.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_random_init_is_allowed_for_plumbing():
    model = create_assessor("memnet", pretrained=False)
    assert isinstance(model.net, MemNetModel) and not model.training
    assert model(torch.rand(1, 3, 40, 40)).shape == (1,)
