"""The fast path's pieces: frozen spectral norms change no output, compact activations keep gradients close."""

from __future__ import annotations

from importlib.resources import files

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from ganalyze.errors import ConfigError
from ganalyze.fast_path import FastPath, bf16_is_native, compact_activations, compute_dtype, freeze_spectral_norms


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
    assert compute_dtype("auto", "cpu") == (torch.bfloat16 if bf16_is_native(torch.device("cpu")) else torch.float32)
    with pytest.raises(ConfigError, match="precision"):
        FastPath(precision="fp8")
    with pytest.raises(ConfigError, match="alphas_per_latent"):
        FastPath(alphas_per_latent=0)
