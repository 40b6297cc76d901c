"""Degradation consistency and the fitted frame of the object-centred projection autoencoder (issue 24): the blur
target rests on Gaussians composing (measured in pixels), the applied degradation blurs by its σ and adds its noise,
swapped codes draw one image's content at another's blur (measured from pixels), the fitted frame puts the drawn
object's measured centroid and size where the pose says, and a trained model continues under the new settings."""

from __future__ import annotations

import math

import pytest
import torch

from ganalyze.audit.name_that_dataset import sharpness
from ganalyze.errors import ConfigError
from ganalyze.projection.blur import MAX_BLUR, MIN_BLUR, blur, blur_of, kernel_variance
from ganalyze.projection.broadcast import build_autoencoder
from ganalyze.projection.degradation import APPLIED_BLUR, APPLIED_NOISE, blur_gap, degrade, swapped
from ganalyze.projection.object_centred import (FRAME_AREA, NUISANCE_DIM, fitted_pose, frame_transform, pixel_centres,
                                                pose_of, warp)
from ganalyze.projection.train import start_from
from ganalyze.world import load_variant, measure
from ganalyze.projection.nuisance_flow import NuisanceFlow
from test_projection_object import SHAPE_DIM, fit, object_autoencoder, red_square_codes


def sigma_of_variance(variance: float) -> float:
    """The σ whose drawn kernel has ``variance`` (bisection on kernel_variance)."""
    low, high = 0.05, 3.0
    for _ in range(50):
        middle = (low + high) / 2
        low, high = (middle, high) if float(kernel_variance(torch.tensor([middle]))) < variance else (low, middle)
    return low


def test_drawn_blurs_compose_by_their_kernel_variances_so_the_blur_target_is_known() -> None:
    """blur(blur(x, σ₁), σ₂) = blur(x, σ) with v(σ) = v(σ₁) + v(σ₂) on world images, within 1% of the pixel range
    (what makes the degraded copy's blur known); σ = √(σ₁² + σ₂²) misses by 5% where σ₁ is small."""
    images, _ = load_variant("broad").sample(4, seed=1)
    full = lambda s: torch.full((4,), s)  # noqa: E731
    for s1, s2 in [(0.3, 0.5), (0.5, 0.7), (0.25, 0.9), (0.8, 0.9)]:
        twice = blur(blur(images, full(s1)), full(s2))
        composed = sigma_of_variance(float(kernel_variance(torch.tensor([s1])) + kernel_variance(torch.tensor([s2]))))
        assert float((twice - blur(images, full(composed))).abs().max()) < 0.01
        assert float((twice - images).abs().max()) > 0.1  # the blur itself is far larger than the gap
    naive = blur(images, full(math.hypot(0.3, 0.5)))
    assert float((blur(blur(images, full(0.3)), full(0.5)) - naive).abs().max()) > 0.04


def test_degradation_blurs_by_its_sigma_and_adds_at_most_its_noise() -> None:
    """One world image degraded 64 times: the blurred copies' sharpness never rises with the applied σ (drawn in
    APPLIED_BLUR) and falls strictly from σ 0.3 px on (below, the drawn kernel is nearly one tap), and the noise
    added has a per-image std within [0, APPLIED_NOISE]."""
    image, _ = load_variant("broad").sample(1, seed=2)
    blurred, noisy, sigma = degrade(image.expand(64, -1, -1, -1), torch.Generator().manual_seed(0))
    low, high = APPLIED_BLUR
    assert float(sigma.min()) >= low and float(sigma.max()) <= high and float(sigma.max() - sigma.min()) > 0.5
    order = sigma.argsort()
    falls = sharpness(blurred[order]).diff()
    assert bool((falls <= 1e-6).all()) and bool((falls[sigma[order][1:] > 0.3] < 0).all())
    noise_std = (noisy - blurred).flatten(1).std(1)
    assert float(noise_std.max()) <= APPLIED_NOISE * 1.1 and float(noise_std.max()) > APPLIED_NOISE / 2


def test_blur_gap_is_zero_at_the_composed_blur_and_raises_a_too_sharp_degraded_number() -> None:
    clean = torch.tensor([-1.0, 0.0])
    applied = torch.tensor([0.6, 0.3])
    wanted = [sigma_of_variance(float(kernel_variance(blur_of(clean[i:i + 1])) + kernel_variance(applied[i:i + 1])))
              for i in range(2)]
    exact = torch.logit((torch.tensor(wanted) - MIN_BLUR) / (MAX_BLUR - MIN_BLUR))
    assert float(blur_gap(clean, exact, applied)) == pytest.approx(0.0, abs=1e-8)
    degraded = clean.clone().requires_grad_(True)  # as sharp as the clean one: too sharp
    blur_gap(clean, degraded, applied).backward()
    assert bool((degraded.grad < 0).all())  # descending the gap raises the degraded image's blur number


@torch.no_grad()
def test_swapped_codes_draw_one_images_content_at_the_others_blur() -> None:
    """Decoding swapped(a, b): the measured centroid and hue are a's, the measured sharpness is b's."""
    ae = object_autoencoder()
    a = red_square_codes(-0.3, 0.2, math.log(0.4), blur_number=-20.0)
    b = red_square_codes(0.4, -0.1, math.log(0.3), blur_number=1.0)
    b[0, 3:6] = torch.tensor([-3.0, -3.0, 3.0])  # blue
    mixed = ae.decode(swapped(a, b, NUISANCE_DIM - 1))
    found, of_a = measure(mixed), measure(ae.decode(a))
    for factor in ("x", "y", "hue"):
        assert float(found[factor]) == pytest.approx(float(of_a[factor]), abs=0.5)
    sharp_b, sharp_a, sharp_mixed = (float(sharpness(ae.decode(c))) for c in (b, a, swapped(a, b, NUISANCE_DIM - 1)))
    assert sharp_mixed < 0.7 * sharp_a  # b's blur, not a's
    assert sharp_mixed == pytest.approx(sharp_b, rel=0.35)  # the same σ on a larger object


def disc_mask(size: int, centre: tuple[float, float], radius: float) -> torch.Tensor:
    """(1, 1, size, size): a soft disc in the frame's [-1, 1] coordinates."""
    coords = pixel_centres(size)
    distance = ((coords[0] - centre[0]) ** 2 + (coords[1] - centre[1]) ** 2).sqrt()
    return torch.sigmoid((radius - distance) * size)[None, None]


def test_a_fitted_frame_puts_the_drawn_objects_centroid_and_area_where_the_pose_says() -> None:
    """Masks of any area and centroid in the frame, placed by fitted_pose: the placed mask's centroid is the pose's
    (x, y) within 0.2 px and its area share of the image FRAME_AREA·scale² within 2%; unfitted, they are not."""
    res = 64
    for centre, radius, (x, y, scale) in [((0.3, -0.2), 0.4, (-0.3, 0.2, 0.5)), ((-0.1, 0.1), 0.8, (0.2, 0.1, 0.4)),
                                          ((0.0, 0.4), 0.3, (0.1, -0.3, 0.7))]:
        mask = disc_mask(32, centre, radius)
        pose = torch.tensor([[x, y, math.log(scale)]])
        placed = warp(mask, frame_transform(fitted_pose(pose, mask), inverse=True), res)
        area = placed.mean()
        coords = pixel_centres(res)
        centroid = (placed[0, 0] * coords).sum((1, 2)) / placed.sum()
        assert float(area) == pytest.approx(FRAME_AREA * scale**2, rel=0.02)
        assert torch.allclose(centroid, torch.tensor([x, y]), atol=0.2 * 2 / res)
        unfitted = warp(mask, frame_transform(pose, inverse=True), res)
        assert abs(float(unfitted.mean()) / (FRAME_AREA * scale**2) - 1) > 0.1


@torch.no_grad()
def test_with_fit_frame_the_decoder_draws_the_size_the_pose_names() -> None:
    """The full-frame square of object_autoencoder covers scale² of the image; with fit_frame it covers
    FRAME_AREA·scale² (measured by world.measure), whatever the mask's own area."""
    ae = object_autoencoder()
    code = red_square_codes(0.1, -0.1, math.log(0.45))
    code[0, NUISANCE_DIM:] = torch.randn(SHAPE_DIM)
    scale = math.exp(float(pose_of(code[:, :3])[0, 2]))
    assert float(measure(ae.decode(code))["size"]) == pytest.approx(scale**2, rel=0.06)
    ae.fit_frame = True
    found = measure(ae.decode(code))
    assert float(found["size"]) == pytest.approx(FRAME_AREA * scale**2, rel=0.06)
    assert float(found["x"]) == pytest.approx(0.55, abs=0.3 / 32)


def test_the_degraded_loss_has_its_parts_and_is_the_plain_loss_when_off() -> None:
    """degrade_weight > 0 adds the swapped reconstructions and the blur gap (finite, with gradients into the
    encoder and decoder); degrade_weight 0 gives the plain loss on the same random stream."""
    images, _ = load_variant("low_quality").sample(8, seed=3, resolution=16)
    config = {"resolution": 16, "latent_channels": 0, "stages": 2, "width": 4, "global_dim": 3, "decoder_depth": 1,
              "object_centred": True, "glimpse": 8}
    torch.manual_seed(0)
    plain = build_autoencoder(config)
    torch.manual_seed(0)
    degrading = build_autoencoder({**config, "degrade_weight": 1.0})
    parts = degrading.loss(images, 0.001, torch.Generator().manual_seed(0))
    assert {"content_through_degradation", "blur_drawn", "blur_gap"} <= set(parts)
    assert all(bool(torch.isfinite(v)) for v in parts.values())
    parts["loss"].backward()
    assert float(degrading.scene[-1].weight.grad.abs().sum()) > 0 and float(degrading.mask_decoder[0].weight.grad.abs().sum()) > 0
    degrading.degrade_weight = 0.0
    with torch.no_grad():
        expected = plain.loss(images, 0.001, torch.Generator().manual_seed(0))["loss"]
        assert float(degrading.loss(images, 0.001, torch.Generator().manual_seed(0))["loss"]) == pytest.approx(float(expected))


def test_a_trained_model_continues_under_new_training_settings_but_not_another_architecture(tmp_path) -> None:
    config = {"resolution": 16, "latent_channels": 0, "stages": 2, "width": 4, "global_dim": 3, "decoder_depth": 1,
              "object_centred": True, "glimpse": 8}
    trained = build_autoencoder(config)
    trained.save_pretrained(tmp_path / "ae")
    continued = build_autoencoder({**config, "degrade_weight": 1.0, "fit_frame": True, "frame_weight": 1.0})
    start_from(continued, tmp_path / "ae")
    assert all(torch.equal(a, b) for a, b in zip(continued.state_dict().values(), trained.state_dict().values()))
    with pytest.raises(ConfigError, match="autoencoder.init"):
        start_from(build_autoencoder({**config, "width": 8}), tmp_path / "ae")


def test_a_monotone_flow_starts_each_data_sets_mixture_on_its_own_numbers() -> None:
    """Two data sets far apart with few samples of the shifted one in the first batch: after the data-dependent start
    and a short fit, each mixture holds under 1% of its mass in the other's range, and a projection onto the narrow
    set lands inside that set's range (with the start on pooled numbers of the code before, this test fails)."""
    gen = torch.Generator().manual_seed(0)
    wide = torch.randn(900, 2, generator=gen) * 0.5 - 1.5
    narrow = 1.0 + 0.1 * torch.randn(100, 2, generator=gen)
    codes = torch.cat([torch.cat([wide, narrow]), torch.randn(1000, 1, generator=gen)], 1)
    labels = torch.cat([torch.zeros(900, dtype=torch.long), torch.ones(100, dtype=torch.long)])
    flow = NuisanceFlow(["wide", "narrow"], 2, 1, kind="monotone", components=8)
    fit(flow, codes, labels, lr=0.01, steps=60)
    with torch.no_grad():
        cdf = flow.nuisance.cdf_and_log_density(torch.zeros(2, 2), torch.tensor([0, 1]))[0]
        moved = flow.inverse(flow(codes[:900], labels[:900])[0], torch.ones(900, dtype=torch.long))
    assert float(cdf[0].min()) > 0.99 and float(cdf[1].max()) < 0.01  # 0 lies between the two data sets
    assert float((moved[:, :2] < 0.5).float().mean()) < 0.01


def test_a_conditional_flow_moves_the_pose_to_the_targets_pose_for_that_shape() -> None:
    """kind=conditional: in data set b the log-scale is 1 + the shape number (in a, unrelated to it); a projection
    a -> b lands on b's number for each image's own shape (error far below b's spread over shapes), keeps the
    order within a shape, inverts, and passes the shape numbers; the unconditional hybrid flow cannot do that."""
    gen = torch.Generator().manual_seed(0)
    n = 600
    shape = torch.randn(2 * n, 1, generator=gen)
    codes = torch.randn(2 * n, NUISANCE_DIM + 1, generator=gen) * 0.3
    codes[:, NUISANCE_DIM:] = shape
    codes[n:, 2] = 1.0 + shape[n:, 0] + 0.05 * torch.randn(n, generator=gen)
    labels = torch.arange(2).repeat_interleave(n)
    errors = {}
    for kind in ("conditional", "hybrid"):
        torch.manual_seed(0)
        flow = NuisanceFlow(["a", "b"], NUISANCE_DIM, 1, kind=kind, blocks=2, hidden=16, embed_dim=4, components=4)
        fit(flow, codes, labels, lr=0.02, steps=300)
        with torch.no_grad():
            z = flow(codes[:n], labels[:n])[0]
            assert torch.allclose(flow.inverse(z, labels[:n]), codes[:n], atol=1e-3)
            moved = flow.inverse(z, torch.ones(n, dtype=torch.long))
        assert torch.equal(moved[:, NUISANCE_DIM:], codes[:n, NUISANCE_DIM:])
        errors[kind] = float((moved[:, 2] - 1.0 - shape[:n, 0]).abs().mean())
    assert errors["conditional"] < 0.25 < errors["hybrid"]  # b's log-scale spreads over shapes with std 1
