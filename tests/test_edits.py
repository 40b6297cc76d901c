"""Edits and their validity masks against hand-computed cases; the edit objective built on them."""

from __future__ import annotations

import pytest
import torch

from ganalyze.edits import EDITS, brightness, color, get_edit, hue, rotate, shift_x, shift_y, zoom
from ganalyze.errors import ConfigError, UnknownNameError, WeightsError
from ganalyze.objectives.edit import EditObjective, masked_l2, vgg16_features

ATOL = 1e-5


def _ramp(h: int, w: int, along: str = "x") -> torch.Tensor:
    """A (1, 1, h, w) image whose value is the column (x) or row (y) index: bilinear sampling is exact on it."""
    cols = torch.arange(w, dtype=torch.float32).expand(h, w)
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    return (cols if along == "x" else rows)[None, None].clone()


def test_shift_x_moves_a_pixel_by_k_and_masks_k_columns() -> None:
    img = torch.zeros(1, 3, 6, 10)
    img[0, :, 3, 2] = 1.0
    out, mask = shift_x(img, 3.0)
    expected = torch.zeros_like(img)
    expected[0, :, 3, 5] = 1.0
    assert torch.allclose(out, expected, atol=ATOL)
    assert mask.shape == (1, 1, 6, 10)
    assert torch.all(mask[..., :3] == 0) and torch.all(mask[..., 3:] == 1)


def test_negative_shift_x_masks_the_right_columns() -> None:
    img = torch.rand(2, 3, 5, 8)
    out, mask = shift_x(img, -2.0)
    assert torch.allclose(out[..., :6], img[..., 2:], atol=ATOL)
    assert torch.all(mask[..., 6:] == 0) and torch.all(mask[..., :6] == 1)


def test_shift_y_moves_rows_down_and_masks_the_top_rows() -> None:
    img = torch.rand(1, 3, 7, 4)
    out, mask = shift_y(img, 2.0)
    assert torch.allclose(out[:, :, 2:], img[:, :, :5], atol=ATOL)
    assert torch.all(mask[:, :, :2] == 0) and torch.all(mask[:, :, 2:] == 1)


def test_per_sample_alphas_apply_to_their_own_image() -> None:
    img = torch.rand(3, 1, 6, 6)
    out, mask = shift_x(img, torch.tensor([0.0, 1.0, -1.0]))
    assert torch.allclose(out[0], img[0], atol=ATOL) and torch.all(mask[0] == 1)
    assert torch.allclose(out[1, ..., 1:], img[1, ..., :-1], atol=ATOL)
    assert torch.allclose(out[2, ..., :-1], img[2, ..., 1:], atol=ATOL)


def test_zoom_in_by_two_maps_the_centre_region() -> None:
    # Output column j shows input column (j + 0.5 - 4) / 2 + 3.5 = j / 2 + 1.75 on an 8-wide ramp.
    out, mask = zoom(_ramp(8, 8, "x"), 1.0)
    expected = torch.arange(8, dtype=torch.float32) / 2 + 1.75
    assert torch.allclose(out[0, 0], expected.expand(8, 8), atol=ATOL)
    assert torch.all(mask == 1)
    out_y, _ = zoom(_ramp(8, 8, "y"), 1.0)
    assert torch.allclose(out_y[0, 0], expected[:, None].expand(8, 8), atol=ATOL)


def test_zoom_out_by_two_masks_the_border_it_brings_in() -> None:
    # Output column j shows input column 2j - 3.5; inside the frame (-0.5..7.5) only for j = 2..5.
    out, mask = zoom(_ramp(8, 8, "x"), -1.0)
    inside = torch.zeros(8)
    inside[2:6] = 1.0
    assert torch.equal(mask[0, 0], inside[:, None] * inside[None, :])
    expected = 2 * torch.arange(2, 6, dtype=torch.float32) - 3.5
    assert torch.allclose(out[0, 0, 3, 2:6], expected, atol=ATOL)


def test_zoom_zero_is_the_identity() -> None:
    img = torch.rand(2, 3, 9, 9)
    out, mask = zoom(img, 0.0)
    assert torch.allclose(out, img, atol=ATOL) and torch.all(mask == 1)


@pytest.mark.parametrize("size", [8, 7])
def test_rotate_90_permutes_pixels_exactly(size: int) -> None:
    img = torch.rand(2, 3, size, size)
    out, mask = rotate(img, 90.0)
    assert torch.allclose(out, torch.rot90(img, 1, dims=(2, 3)), atol=ATOL)
    assert torch.all(mask == 1)
    back, _ = rotate(img, -90.0)
    assert torch.allclose(back, torch.rot90(img, -1, dims=(2, 3)), atol=ATOL)


def test_rotate_180_flips_a_non_square_image() -> None:
    img = torch.rand(1, 3, 5, 9)
    out, mask = rotate(img, 180.0)
    assert torch.allclose(out, img.flip(2, 3), atol=ATOL)
    assert torch.all(mask == 1)


def test_rotate_45_masks_the_corners_only() -> None:
    _, mask = rotate(torch.rand(1, 1, 16, 16), 45.0)
    assert mask[0, 0, 0, 0] == 0 and mask[0, 0, 0, 15] == 0 and mask[0, 0, 15, 0] == 0 and mask[0, 0, 15, 15] == 0
    assert torch.all(mask[0, 0, 5:11, 5:11] == 1)
    assert mask[0, 0, 0, 7] == 1  # mid-edge pixels stay inside the frame


def test_brightness_adds_and_clips() -> None:
    img = torch.tensor([0.0, 0.5, 0.9]).view(1, 1, 1, 3).expand(2, 3, 1, 3).clone()
    out, mask = brightness(img, torch.tensor([0.25, -0.25]))
    assert torch.allclose(out[0, :, 0], torch.tensor([0.25, 0.75, 1.0]).expand(3, 3))
    assert torch.allclose(out[1, :, 0], torch.tensor([0.0, 0.25, 0.65]).expand(3, 3))
    assert torch.all(mask == 1)


def test_color_adds_per_channel_and_clips() -> None:
    img = torch.full((1, 3, 2, 2), 0.5)
    out, mask = color(img, torch.tensor([[0.25, -0.5, 0.75]]))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.75, 0.0, 1.0]))
    assert torch.all(mask == 1)


def test_hue_turns_primaries_into_each_other_and_keeps_greys() -> None:
    img = torch.zeros(3, 3, 1, 2)
    img[0, 0, 0, 0] = 1.0  # red
    img[1, 1, 0, 0] = 1.0  # green
    img[2, :, 0, 0] = torch.tensor([0.2, 0.6, 0.2])  # a dull green
    img[:, :, 0, 1] = 0.4  # grey
    out, mask = hue(img, torch.tensor([120.0, 120.0, 0.0]))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.0, 1.0, 0.0]), atol=ATOL)  # red -> green
    assert torch.allclose(out[1, :, 0, 0], torch.tensor([0.0, 0.0, 1.0]), atol=ATOL)  # green -> blue
    assert torch.allclose(out[:, :, 0, 1], torch.full((3, 3), 0.4), atol=ATOL)  # greys stay grey
    assert torch.allclose(out[2], img[2], atol=ATOL) and torch.all(mask == 1)
    back, _ = hue(out[:2], -120.0)
    assert torch.allclose(back, img[:2], atol=ATOL)


def test_bad_alpha_shape_and_bad_name_raise_clear_errors() -> None:
    img = torch.rand(2, 3, 4, 4)
    with pytest.raises(ConfigError, match=r"\(2, 3\)"):
        color(img, torch.zeros(2))
    with pytest.raises(ConfigError, match=r"\(2,\)"):
        zoom(img, torch.zeros(3))
    with pytest.raises(UnknownNameError, match="shift_x"):
        get_edit("shear")


def test_registry_alpha_dims() -> None:
    assert {name: e.alpha_dim for name, e in EDITS.items()} == {
        "zoom": 1, "shift_x": 1, "shift_y": 1, "rotate": 1, "brightness": 1, "color": 3, "hue": 1,
    }


# --- the edit objective -------------------------------------------------------------------------------


def test_edit_target_is_built_without_grad() -> None:
    x0 = torch.rand(2, 3, 8, 8, requires_grad=True)
    target = EditObjective("shift_x").target(x0, torch.tensor([1.0, -2.0]))
    assert not target.images.requires_grad
    assert target.mask.shape == (2, 1, 8, 8)


def test_masked_l2_ignores_masked_pixels_and_averages_over_valid_ones() -> None:
    target = torch.zeros(1, 3, 4, 4)
    mask = torch.ones(1, 1, 4, 4)
    mask[..., 0] = 0.0  # first column invalid: 12 valid pixels x 3 channels = 36 values
    x1 = torch.zeros(1, 3, 4, 4)
    x1[..., 0] = 5.0  # differences in the masked column do not count
    assert masked_l2(x1, target, mask).item() == 0.0
    x1[0, 1, 2, 3] = 0.6
    assert masked_l2(x1, target, mask).item() == pytest.approx(0.36 / 36)


def test_edit_loss_is_zero_on_the_target_and_pulls_towards_it() -> None:
    objective = EditObjective("zoom")
    x0 = torch.rand(2, 3, 8, 8)
    target = objective.target(x0, torch.tensor([0.5, -0.5]))
    assert objective.loss(target.images, target).item() == 0.0
    x1 = x0.clone().requires_grad_(True)
    loss = objective.loss(x1, target)
    loss.backward()
    assert loss.item() > 0 and x1.grad is not None and x1.grad.abs().sum() > 0


def test_color_objective_has_three_sliders() -> None:
    assert EditObjective("color").alpha_dim == 3 and EditObjective("rotate").alpha_dim == 1


def test_perceptual_distance_ignores_masked_pixels() -> None:
    torch.manual_seed(0)
    features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.AvgPool2d(2))
    objective = EditObjective("shift_x", features=features)
    x0 = torch.rand(1, 3, 8, 8)
    target = objective.target(x0, torch.tensor([2.0]))
    x1 = target.images.clone()
    x1[..., :2] = torch.rand(1, 3, 8, 2)  # only the two masked columns differ
    assert objective.loss(x1, target).item() == pytest.approx(0.0, abs=1e-7)
    x1[..., 5] = 1.0 - x1[..., 5]
    assert objective.loss(x1, target).item() > 1e-4


def test_vgg16_features_load_from_a_local_state_dict(tmp_path) -> None:
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["D"])[:4].state_dict().items()}  # conv, relu, conv, relu
    state["classifier.0.weight"] = torch.zeros(1)  # entries outside the features are ignored
    torch.save(state, tmp_path / "vgg16.pth")
    features = vgg16_features(tmp_path / "vgg16.pth", layers=4)
    assert features(torch.rand(1, 3, 16, 16)).shape == (1, 64, 16, 16)
    assert torch.equal(features.body[2].weight, state["features.2.weight"])
    with pytest.raises(WeightsError, match="no VGG16 weights"):
        vgg16_features(tmp_path / "missing.pth")
    torch.save({"features.0.weight": torch.zeros(2)}, tmp_path / "foreign.pth")
    with pytest.raises(WeightsError, match="does not hold torchvision vgg16"):
        vgg16_features(tmp_path / "foreign.pth")
