"""The fast path's pieces: frozen spectral norms change no output, compact activations keep gradients close,
shared targets equal repeated latents, and θ trained in bf16 matches fp32 on the shapes world."""

from __future__ import annotations

from importlib.resources import files

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from assessors.registry import create_assessor
from ganalyze.errors import ConfigError
from ganalyze.fast_path import (PLAIN, FastPath, alphas_for_batch, bf16_is_faster, bf16_is_native, compact_activations,
                                compile_backend, compute_dtype, freeze_spectral_norms, is_compiled, prepare_frozen, repeated_batch)
from ganalyze.generators.shapes import ShapesGenerator
from ganalyze.objectives.score import ScoreObjective
from ganalyze.training import TrainSettings, train, train_step
from ganalyze.transformers.linear import LinearTransformer


def tiny_biggan() -> nn.Module:
    return instantiate(OmegaConf.load(files("ganalyze.conf") / "generator" / "tiny_biggan.yaml"))


def test_freezing_spectral_norms_changes_no_output():
    generator = tiny_biggan()
    z, y = generator.sample_latents(3, seed=1)
    before = generator(z, y)
    assert freeze_spectral_norms(generator) > 0
    assert freeze_spectral_norms(generator) == 0  # nothing left to freeze
    torch.testing.assert_close(generator(z, y), before, rtol=0, atol=0)
    assert not any(p.requires_grad for p in generator.parameters())


def test_freezing_spectral_norms_refuses_a_trainable_module():
    with pytest.raises(ValueError, match="frozen"):
        freeze_spectral_norms(nn.utils.spectral_norm(nn.Linear(3, 3)))


def test_compact_activations_keep_input_gradients_within_bf16_rounding():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.SiLU(),
                        nn.Flatten(), nn.Linear(16 * 16 * 16, 1)).requires_grad_(False)
    x = torch.randn(4, 3, 16, 16)
    grads = []
    for enabled in (False, True):
        xi = x.clone().requires_grad_(True)
        with compact_activations(enabled):
            out = net(xi).pow(2).sum()
        out.backward()
        grads.append(xi.grad)
    exact, compact = grads
    assert not torch.equal(exact, compact)  # the saved activations really were rounded
    assert (compact - exact).norm() / exact.norm() < 1e-2


def test_auto_precision_follows_the_hardware_and_bad_names_fail():
    assert compute_dtype("fp32", "cpu") == torch.float32
    assert compute_dtype("bf16", "cpu") == torch.bfloat16
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if bf16_is_native(cpu) and bf16_is_faster(cpu) else torch.float32
    assert compute_dtype("auto", "cpu") == expected
    with pytest.raises(ConfigError, match="precision"):
        FastPath(precision="fp8")
    with pytest.raises(ConfigError, match="alphas_per_latent"):
        FastPath(alphas_per_latent=0)


@pytest.mark.parametrize("budget", [0.0, -0.5, 1.5])
def test_memory_budget_outside_the_unit_interval_fails(budget):
    with pytest.raises(ConfigError, match="memory_budget"):
        FastPath(memory_budget=budget)


def test_memory_budget_backend_compiles_with_the_partitioner_budget_set(monkeypatch):
    import torch._functorch.config as partitioner
    import torch._inductor.compile_fx

    monkeypatch.setattr(torch._inductor.compile_fx, "compile_fx", lambda graph, inputs: partitioner.activation_memory_budget)
    before = partitioner.activation_memory_budget
    assert compile_backend(0.3)(None, []) == 0.3
    assert partitioner.activation_memory_budget == before
    assert compile_backend(1.0) == "inductor" and compile_backend(0.3) is compile_backend(0.3)


def test_prepare_frozen_compiles_a_forward_once(monkeypatch):
    """Preparing a network twice (the training, then a compiled evaluation) compiles its forward once."""
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn, **_: compiled.append(fn) or fn)
    frozen = nn.Sequential(nn.Conv2d(3, 4, 3)).eval().requires_grad_(False)
    prepare_frozen(frozen, FastPath(precision="fp32"))
    assert compiled == [] and not is_compiled(frozen)
    for _ in range(2):
        prepare_frozen(frozen, FastPath(precision="fp32", compile=True))
    assert len(compiled) == 1 and is_compiled(frozen)


def test_repeated_batch_runs_the_networks_once_and_equals_the_repeated_run():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2)).eval().requires_grad_(False)
    images = torch.rand(2, 3, 8, 8)
    batch_sizes = []
    net[0].register_forward_pre_hook(lambda module, args: batch_sizes.append(len(args[0])))
    holder = nn.Module()  # an objective holding one network
    holder.net = net
    with repeated_batch(holder, images, 3) as repeated:
        out = net(repeated)
        other = net(repeated.clone())  # any other tensor runs as it is
    assert batch_sizes == [2, 6] and repeated.shape == (6, 3, 8, 8)
    torch.testing.assert_close(out, net(images.repeat(3, 1, 1, 1)))
    torch.testing.assert_close(other, out)
    net(repeated)
    assert batch_sizes[-1] == 6  # the hooks are gone after the block


@pytest.mark.parametrize("k, batch, expected", [(4, 32, 4), (4, 6, 3), (4, 5, 1), (4, 1, 1), (1, 32, 1)])
def test_alphas_per_latent_is_lowered_to_divide_the_batch(k, batch, expected):
    assert alphas_for_batch(k, batch) == expected


def test_fast_path_from_config_names_unknown_settings():
    assert FastPath.from_config({"precision": "fp32", "alphas_per_latent": 2}) == FastPath("fp32", 2)
    with pytest.raises(ConfigError, match="no setting preciison; its settings are alphas_per_latent"):
        FastPath.from_config({"preciison": "fp32"})


def trained_theta(z, y, alpha, fast: FastPath, device: str = "cpu", prepare: bool = False) -> torch.Tensor:
    """θ after one train_step from a fixed start on a tiny random BigGAN with the brightness assessor, on
    ``device``; with ``prepare``, the generator is prepared as training prepares it (layout, compile)."""
    generator = tiny_biggan().eval().requires_grad_(False)
    if prepare:
        prepare_frozen(generator, fast)
    objective = ScoreObjective(create_assessor("brightness"))
    torch.manual_seed(0)
    transformer = LinearTransformer(generator.dim_z).to(device)
    optimizer = torch.optim.SGD(transformer.parameters(), lr=10.0)
    train_step(generator.to(device), transformer, objective.to(device), optimizer, z.to(device), y.to(device),
               alpha.to(device), fast=fast)
    return transformer.theta.detach().cpu()


def test_shared_targets_give_the_step_of_the_repeated_latents():
    generator = tiny_biggan()
    z, y = generator.sample_latents(2, seed=3)
    alpha = torch.linspace(-0.2, 0.2, 6)  # three blocks of two: sample i pairs latent i mod 2 with alpha_i
    shared = trained_theta(z, y, alpha, FastPath("fp32", alphas_per_latent=3))
    repeated = trained_theta(z.repeat(3, 1), y.repeat(3), alpha, PLAIN)
    assert not torch.equal(shared, trained_theta(z, y, alpha.flip(0), FastPath("fp32", 3)))  # α really matters
    torch.testing.assert_close(shared, repeated, rtol=1e-5, atol=1e-6)


# θ trained in bf16 must stay within this fraction of its fp32 update's length from the fp32 θ. Measured on
# 20 steps, batch 16 (shipped shapes generator, shapes_size assessor): 0.058; a different seed in fp32: far more.
BF16_TOLERANCE = 0.15


def test_theta_trained_in_bf16_matches_fp32_on_the_shapes_world(tmp_path):
    generator = ShapesGenerator.from_pretrained()
    objective = ScoreObjective(create_assessor("shapes_size"))

    def update(precision: str, seed: int = 0) -> torch.Tensor:
        torch.manual_seed(0)
        transformer = LinearTransformer(generator.dim_z)
        start = transformer.theta.detach().clone()
        settings = TrainSettings(steps=20, batch_size=16, seed=seed, fast=FastPath(precision=precision))
        train(generator, transformer, objective, settings, tmp_path / f"{precision}{seed}", {})
        return transformer.theta.detach() - start

    fp32, bf16, other_seed = update("fp32"), update("bf16"), update("fp32", seed=1)
    error = ((bf16 - fp32).norm() / fp32.norm()).item()
    assert error < BF16_TOLERANCE
    assert error < 0.5 * ((other_seed - fp32).norm() / fp32.norm()).item()  # precision matters less than the batch
