"""How a nuisance flow reads an object-centred code (issue 24, the rank bar): the object colour as hue, saturation
and value (a bijection of the colour numbers with the log-determinant autograd finds; a flow with colour=hsv moves a
palette onto another keeping the hue's order around the circle and the brightness's order, and saves its seam), and
the log-scale as the drawn object's log-size (size=drawn: inverted given the same shape, refused without masks)."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import spearmanr

from ganalyze.errors import ConfigError
from ganalyze.projection.colour_numbers import emptiest_hue, from_hsv_numbers, rgb_to_hsv, to_hsv_numbers
from ganalyze.projection.nuisance_flow import NuisanceFlow, load_flow
from ganalyze.projection.object_centred import NUISANCE_DIM, POSE_DIM, drawn_log_size, log_scale_number
from ganalyze.projection.report import rank_correlation
from ganalyze.projection.settings import ProjectTrainSettings
from ganalyze.typed_settings import from_config
from ganalyze.world.render import SATURATION, hsv_to_rgb
from test_projection_object import SHAPE_DIM, fit, object_autoencoder


def colour_numbers(hue_degrees: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """The colour numbers c (σ(c) = RGB) of world object colours."""
    return torch.logit(hsv_to_rgb(hue_degrees, SATURATION, value))


def test_the_reading_inverts_and_its_log_determinant_is_autograds() -> None:
    gen = torch.Generator().manual_seed(0)
    colour = 1.5 * torch.randn(40, 3, generator=gen, dtype=torch.float64)
    numbers, logdet = to_hsv_numbers(colour, 0.3)
    assert torch.allclose(from_hsv_numbers(numbers, 0.3), colour, atol=1e-9)
    hue_from_seam = torch.remainder(360 * rgb_to_hsv(torch.sigmoid(colour))[:, 0] - 108.0, 360.0)
    assert torch.allclose(360 * torch.sigmoid(numbers[:, 0]), hue_from_seam, atol=1e-6)
    jacobians = torch.stack([torch.autograd.functional.jacobian(lambda c: to_hsv_numbers(c[None], 0.3)[0][0], c)
                             for c in colour])
    assert torch.allclose(jacobians.det().abs().log(), logdet, atol=1e-8)


def test_hue_and_value_are_the_worlds() -> None:
    hue, value = torch.linspace(0, 350, 36), torch.linspace(0.55, 1.0, 36)
    hsv = rgb_to_hsv(hsv_to_rgb(hue, SATURATION, value))
    assert torch.allclose(360 * hsv[:, 0], hue, atol=1e-3)
    assert torch.allclose(hsv[:, 1], torch.full((36,), SATURATION), atol=1e-5)
    assert torch.allclose(hsv[:, 2], value, atol=1e-6)
    warm_and_cool = colour_numbers(torch.cat([torch.linspace(0, 60, 50), torch.linspace(170, 250, 50)]), torch.full((100,), 0.8))
    seam = 360 * emptiest_hue(warm_and_cool)
    assert 60 < seam < 170 or seam > 250  # where neither palette lies


def test_an_hsv_flow_moves_a_palette_keeping_hue_and_brightness_order(tmp_path) -> None:
    """Data sets of object colours, warm (0–60°), cool (170–250°) and every hue, values 0.55–1: projected warm ->
    cool, hues land in cool's range in the same order (ρ on the circle as the report's) and the brightness order is
    kept; projected onto every hue, the order is kept around the circle (no hue crosses the seam)."""
    gen = torch.Generator().manual_seed(2)
    n, shape_dim = 300, 2
    hue = torch.cat([60 * torch.rand(n, generator=gen), 170 + 80 * torch.rand(n, generator=gen), 360 * torch.rand(n, generator=gen)])
    value = 0.55 + 0.45 * torch.rand(3 * n, generator=gen)
    codes = 0.3 * torch.randn(3 * n, NUISANCE_DIM + shape_dim, generator=gen)
    codes[:, POSE_DIM:POSE_DIM + 3] = colour_numbers(hue, value)
    labels = torch.arange(3).repeat_interleave(n)
    flow = NuisanceFlow(["warm", "cool", "broad"], NUISANCE_DIM, shape_dim, kind="hybrid", colour="hsv", blocks=2,
                        hidden=8, embed_dim=4, components=6)
    fit(flow, codes, labels, lr=0.03, steps=300)
    with torch.no_grad():
        z = flow(codes[:n], labels[:n])[0]
        assert torch.allclose(flow.inverse(z, labels[:n]), codes[:n], atol=1e-3)
        moved = flow.inverse(z, torch.ones(n, dtype=torch.long))
        spread = rgb_to_hsv(torch.sigmoid(flow.inverse(z, torch.full((n,), 2))[:, POSE_DIM:POSE_DIM + 3]))
    assert rank_correlation("hue", hue[:n].double().numpy(), (360 * spread[:, 0]).double().numpy()) > 0.99
    assert torch.equal(moved[:, NUISANCE_DIM:], codes[:n, NUISANCE_DIM:])
    hsv = rgb_to_hsv(torch.sigmoid(moved[:, POSE_DIM:POSE_DIM + 3]))
    assert 160 < float(360 * hsv[:, 0].min()) and float(360 * hsv[:, 0].max()) < 260
    assert rank_correlation("hue", hue[:n].double().numpy(), (360 * hsv[:, 0]).double().numpy()) > 0.99
    assert spearmanr(value[:n].numpy(), hsv[:, 2].numpy()).statistic > 0.99
    flow.save_pretrained(tmp_path / "flow")
    loaded = load_flow(tmp_path / "flow")
    assert loaded.colour == "hsv" and float(loaded.hue_seam) == float(flow.hue_seam) >= 0
    assert torch.allclose(loaded.inverse(z, torch.ones(n, dtype=torch.long)), moved, atol=1e-5)


def test_the_drawn_size_reading_inverts_and_follows_the_mask() -> None:
    gen = torch.Generator().manual_seed(3)
    number, area = torch.randn(50, generator=gen, dtype=torch.float64), 0.1 + 0.3 * torch.rand(50, generator=gen, dtype=torch.float64)
    log_size, logdet = drawn_log_size(number, area)
    assert torch.allclose(log_scale_number(log_size, area), number, atol=1e-6)
    slope = torch.autograd.functional.jacobian(lambda n: drawn_log_size(n, area)[0], number).diagonal()
    assert torch.allclose(slope.log(), logdet, atol=1e-8)
    assert torch.allclose(drawn_log_size(number, 4 * area)[0] - log_size, torch.full_like(log_size, 0.6931471805599453))

    ae = object_autoencoder()  # its mask fills the whole frame
    flow = NuisanceFlow(["a", "b"], NUISANCE_DIM, SHAPE_DIM, kind="hybrid", size="drawn", blocks=1, hidden=4,
                        embed_dim=2, components=2).eval()
    codes = torch.randn(8, NUISANCE_DIM + SHAPE_DIM, generator=gen)
    with pytest.raises(RuntimeError, match="flow.attach"):
        flow(codes, torch.zeros(8, dtype=torch.long))
    flow.attach(ae)
    read, _ = flow.read(codes[:, :NUISANCE_DIM], codes[:, NUISANCE_DIM:])
    expected = drawn_log_size(codes[:, POSE_DIM - 1], torch.ones(8))[0]
    assert torch.allclose(read[:, POSE_DIM - 1], expected, atol=1e-4)
    assert torch.allclose(flow.unread(read, codes[:, NUISANCE_DIM:]), codes[:, :NUISANCE_DIM], atol=1e-4)
    assert "frame_area" not in "".join(flow.state_dict())


def test_the_readings_run_under_bf16_autocast() -> None:
    """Direction training scores images under bf16 autocast, where the couplings' and the monotone maps' outputs
    have different dtypes; the flow's likelihoods must still come out (they did not: an index-put of mixed dtypes)."""
    ae = object_autoencoder()
    flow = NuisanceFlow(["a", "b"], NUISANCE_DIM, SHAPE_DIM, kind="hybrid", colour="hsv", size="drawn", blocks=1,
                        hidden=4, embed_dim=2, components=2)
    flow.attach(ae)
    codes = torch.randn(8, NUISANCE_DIM + SHAPE_DIM, generator=torch.Generator().manual_seed(4))
    codes[:4, POSE_DIM:POSE_DIM + 3] = torch.tensor([9.0, 9.0, -9.0])  # a value near 1: 1 - EPS is 1 in bf16
    flow(codes, torch.zeros(8, dtype=torch.long))  # the data-dependent starts
    flow.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = flow.class_log_likelihoods(codes.bfloat16())
    assert bool(torch.isfinite(low).all())
    assert torch.allclose(low.float(), flow.class_log_likelihoods(codes), rtol=0.05, atol=0.5)


def test_hsv_colour_needs_a_monotone_flow() -> None:
    with pytest.raises(ValueError, match="colour='hsv'"):
        NuisanceFlow(["a", "b"], NUISANCE_DIM, 2, kind="coupling", colour="hsv")
    with pytest.raises(ValueError, match="colour='lab'"):
        NuisanceFlow(["a", "b"], NUISANCE_DIM, 2, kind="hybrid", colour="lab")
    with pytest.raises(ValueError, match="size='drawn'"):
        NuisanceFlow(["a", "b"], NUISANCE_DIM, 2, kind="coupling", size="drawn")
    for flow, words in (({"colour": "hsv"}, "flow.kind=coupling"), ({"colour": "lab"}, "flow.colour='lab'"),
                        ({"size": "drawn"}, "flow.kind=coupling"), ({"size": "area"}, "flow.size='area'")):
        with pytest.raises(ConfigError, match=words) as err:
            from_config(ProjectTrainSettings, {"flow": {"kind": "coupling", **flow}})
        assert "\n" not in str(err.value)
