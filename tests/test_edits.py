"""Edits and their validity masks against hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from ganalyze.edits import EDITS, brightness, color, get_edit, rotate, shift_x, shift_y, zoom
from ganalyze.errors import ConfigError, UnknownNameError

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
        "zoom": 1, "shift_x": 1, "shift_y": 1, "rotate": 1, "brightness": 1, "color": 3,
    }
