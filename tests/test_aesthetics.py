"""AestheticsNet: the release's multi-head state dict loads; heads, preprocessing and errors are right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from caffenet_reference import TRUNK_SHAPES, random_state, trunk_reference

from assessors import create_assessor
from assessors.aesthetics import ATTRIBUTES, HEADS, AestheticsNet
from ganalyze.errors import ConfigError, WeightsError

torch.set_num_threads(1)

PUBLISHED_SHAPES = {
    **TRUNK_SHAPES,
    "fc8_new.weight": (512, 4096), "fc8_new.bias": (512,),
    **{f"fc8_{a}.{p}": (256, 4096) if p == "weight" else (256,) for a in ATTRIBUTES for p in ("weight", "bias")},
    **{f"fc9_{a}.{p}": (1, 256) if p == "weight" else (1,) for a in ATTRIBUTES for p in ("weight", "bias")},
    "fc10_Merge.weight": (128, 512 + 11 * 256), "fc10_Merge.bias": (128,),
    "fc11_score.weight": (1, 128), "fc11_score.bias": (1,),
}


@pytest.fixture(scope="module")
def state():
    return random_state(PUBLISHED_SHAPES, seed=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory, state):
    folder = tmp_path_factory.mktemp("aestheticsnet")
    torch.save(state, folder / "aestheticsnet.pt")
    mean = np.random.default_rng(0).uniform(90, 130, size=(3, 256, 256)).astype(np.float32)
    np.save(folder / "mean.npy", mean)
    yield folder / "aestheticsnet.pt", folder / "mean.npy"
    (folder / "aestheticsnet.pt").unlink()  # 285 MB


def reference_heads(state: dict[str, torch.Tensor], mean: np.ndarray, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The release's forward written out from its description: 227 warp, mean[14:241], heads and merge."""
    def linear(name: str, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, state[f"{name}.weight"], state[f"{name}.bias"])

    x = F.interpolate(image.flip(0)[None] * 255.0, size=(227, 227), mode="bilinear", align_corners=False, antialias=True)
    fc7 = trunk_reference(state, x - torch.from_numpy(mean[:, 14:241, 14:241]))
    hidden = [F.relu(linear(f"fc8_{a}", fc7)) for a in ATTRIBUTES]
    merged = torch.cat([F.relu(linear("fc8_new", fc7))] + hidden, dim=1)
    heads = {"Aesthetic": linear("fc11_score", F.relu(linear("fc10_Merge", merged)))[0, 0]}
    heads.update({a: linear(f"fc9_{a}", h)[0, 0] for a, h in zip(ATTRIBUTES, hidden)})
    return heads


def test_loads_published_format_and_matches_the_reference_for_every_head(files, state):
    weights, mean = files
    model = create_assessor("aestheticsnet", weights=str(weights), mean_image=str(mean))
    assert not model.training and model.score_range == (0.0, 1.0)
    images = torch.rand(2, 3, 50, 70, generator=torch.Generator().manual_seed(2)).requires_grad_()
    heads = model.heads(images)
    assert set(heads) == set(HEADS) and len(HEADS) == 12
    for i in range(2):
        with torch.no_grad():
            expected = reference_heads(state, np.load(mean), images[i])
        for name in HEADS:
            torch.testing.assert_close(heads[name][i].detach(), expected[name], rtol=1e-4, atol=1e-5)
    scores = model(images)
    torch.testing.assert_close(scores, heads["Aesthetic"])
    scores.sum().backward()
    assert torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_head_option_selects_an_attribute_and_its_range(files):
    weights, _ = files
    model = AestheticsNet(weights=weights, head="VividColor")
    assert model.score_range == (-1.0, 1.0)
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(images), model.heads(images)["VividColor"])
    with pytest.raises(ConfigError, match="no head 'Vivid'.*RuleOfThirds"):
        AestheticsNet(pretrained=False, head="Vivid")


def test_bad_files_are_clear_errors(tmp_path, state):
    with pytest.raises(WeightsError, match="GANalyze authors"):
        create_assessor("aestheticsnet")
    with pytest.raises(WeightsError, match="nowhere.pt"):
        AestheticsNet(weights=tmp_path / "nowhere.pt")
    partial = {k: v for k, v in state.items() if not k.startswith(("fc9_Symmetry", "fc10"))}
    partial["fc11_score.weight"] = torch.zeros(2, 128)
    partial["fc12.weight"] = torch.zeros(1)
    torch.save({k: v for k, v in partial.items() if not k.startswith(("conv", "fc6", "fc7"))}, tmp_path / "bad.pt")
    with pytest.raises(WeightsError) as err:
        AestheticsNet(weights=tmp_path / "bad.pt")
    message = str(err.value)
    assert "'fc10_Merge.bias'" in message and "'fc9_Symmetry.weight'" in message and "'conv1.weight'" in message
    assert "unexpected keys ['fc12.weight']" in message
    assert "fc11_score.weight (file (2, 128), model (1, 128))" in message
    np.save(tmp_path / "small_mean.npy", np.zeros((3, 200, 200), dtype=np.float32))
    with pytest.raises(WeightsError, match=r"small_mean.npy has shape \(3, 200, 200\)"):
        AestheticsNet(pretrained=False, mean_image=tmp_path / "small_mean.npy")
