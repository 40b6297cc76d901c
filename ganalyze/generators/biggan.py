"""BigGAN-deep (128, 256, 512 px) from pytorch-pretrained-biggan, behind the Generator protocol.

Weights come from a local folder holding the library's ``config.json`` and ``pytorch_model.bin``; they
are read with ``weights_only=True`` and checked strictly (the library's own from_pretrained ignores
missing keys and returns a model in train mode). With no folder given, the two files pytorch-pretrained-biggan
publishes for the model are downloaded once into the cache (``ganalyze.download``; ``GANALYZE_BIGGAN_URL``
replaces the base URL, e.g. for a mirror). ``pretrained=False`` builds a random network for
plumbing tests, made finite in eval mode. Images come out in [0, 1]; classes by index or ImageNet name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pytorch_pretrained_biggan import BigGAN, BigGANConfig
from pytorch_pretrained_biggan.model import PRETRAINED_CONFIG_ARCHIVE_MAP, PRETRAINED_MODEL_ARCHIVE_MAP
from torch.nn.utils.spectral_norm import SpectralNorm

from ganalyze.download import DownloadFailed, cache_dir, download, offline
from ganalyze.errors import ConfigError, WeightsError
from ganalyze.generators.base import Generator
from ganalyze.generators.classes import imagenet_class_names

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "pytorch_model.bin"
BASE_URL_VARIABLE = "GANALYZE_BIGGAN_URL"
# Where pytorch-pretrained-biggan publishes its files: <base>/<model>-config.json, <base>/<model>-pytorch_model.bin.
PUBLISHED_BASE_URL = PRETRAINED_MODEL_ARCHIVE_MAP["biggan-deep-128"].rpartition("/")[0]


def missing_weights_message(name: str, problem: str) -> str:
    """One paragraph: what is wrong with the weights, which files are expected and where users get them."""
    hub = f"biggan-deep-{name.rsplit('_', 1)[-1]}"
    sources = ""
    if hub in PRETRAINED_MODEL_ARCHIVE_MAP:
        sources = (f" pytorch-pretrained-biggan publishes them for {hub!r} as {PRETRAINED_MODEL_ARCHIVE_MAP[hub]} "
                   f"and {PRETRAINED_CONFIG_ARCHIVE_MAP[hub]} (download both, rename them to {WEIGHTS_FILE} and "
                   f"{CONFIG_FILE}), or convert DeepMind's TF-Hub module with the library's convert_tf_to_pytorch.")
    return (f"{name}: {problem} Set generator.weights to a local folder holding {CONFIG_FILE} and {WEIGHTS_FILE}."
            f"{sources} For plumbing tests without weights, generator.pretrained=false builds a random network.")


def hub_name(name: str) -> str:
    """The library's model name for a generator config name: biggan_deep_128 -> biggan-deep-128."""
    return name.replace("_", "-")


def published_urls(hub: str) -> dict[str, str]:
    """The URLs of the model's config and weights, under ``$GANALYZE_BIGGAN_URL`` if set, keyed by local file name."""
    base = (os.environ.get(BASE_URL_VARIABLE) or PUBLISHED_BASE_URL).rstrip("/")
    return {CONFIG_FILE: f"{base}/{hub}-config.json", WEIGHTS_FILE: f"{base}/{hub}-pytorch_model.bin"}


def by_hand_message(name: str, folder: Path, urls: dict[str, str], problem: str) -> str:
    """One paragraph: why the files are not there, and how to put them in place by hand."""
    return (f"{name}: generator.weights is not set and the published weights are not in the cache; {problem}. "
            f"Nothing incomplete was kept. To use them, download {urls[CONFIG_FILE]} and {urls[WEIGHTS_FILE]} by hand "
            f"and save them as {folder / CONFIG_FILE} and {folder / WEIGHTS_FILE} (or in any folder, then pass "
            f"generator.weights=/that/folder). {BASE_URL_VARIABLE}=<base URL> fetches from a mirror, GANALYZE_CACHE="
            "<folder> moves the cache, GANALYZE_OFFLINE=1 skips the download attempt; generator.pretrained=false "
            "builds a random network for plumbing tests.")


def fetch_published(name: str) -> Path:
    """The cache folder holding the published ``config.json`` and ``pytorch_model.bin`` of ``name``, fetched once.

    Files already in the cache are used as they are (offline too); a missing one is downloaded whole or not at all.
    """
    hub = hub_name(name)
    if hub not in PRETRAINED_MODEL_ARCHIVE_MAP:
        raise WeightsError(missing_weights_message(name, "generator.weights is not set."))
    folder, urls = cache_dir() / "biggan" / hub, published_urls(hub)
    missing = [file for file in urls if not (folder / file).is_file()]
    if missing and offline():
        raise WeightsError(by_hand_message(name, folder, urls, "downloads are switched off (GANALYZE_OFFLINE or "
                                                               "HF_HUB_OFFLINE)"))
    for file in missing:
        try:
            download(urls[file], folder / file)
        except DownloadFailed as err:
            raise WeightsError(by_hand_message(name, folder, urls, f"{urls[file]} could not be fetched ({err})")) from err
    return folder


def read_biggan_config(folder: Path, name: str) -> BigGANConfig:
    """Read ``folder/config.json`` as a BigGANConfig, or raise WeightsError saying what is missing or wrong."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise WeightsError(missing_weights_message(name, f"no {CONFIG_FILE} in {folder}."))
    try:
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise WeightsError(missing_weights_message(name, f"{path} is not a readable BigGAN config ({err}).")) from err
    return BigGANConfig.from_dict(raw)


def load_biggan_weights(model: BigGAN, path: Path, name: str) -> None:
    """Load a state dict safely (weights_only) and strictly: any missing, unexpected or mis-shaped key fails."""
    if not path.is_file():
        raise WeightsError(missing_weights_message(name, f"no {WEIGHTS_FILE} in {path.parent}."))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or foreign files raise several types
        raise WeightsError(missing_weights_message(name, f"{path} is corrupted or not a safe state dict ({err}).")) from err
    if not isinstance(state, dict):
        raise WeightsError(missing_weights_message(name, f"{path} holds a {type(state).__name__}, not a state dict."))
    try:
        # strict=False only to collect the key lists ourselves; spectral-norm load hooks still convert
        # the older published layout (weight, weight_orig, weight_u) to the current one.
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # mis-shaped tensors
        raise WeightsError(f"{name}: {path} does not fit the architecture in {CONFIG_FILE}: {str(err)[:600]}") from err
    if result.missing_keys or result.unexpected_keys:
        def head(keys: list[str]) -> str:
            return f"{len(keys)} ({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''})"
        raise WeightsError(
            f"{name}: {path} does not match the architecture in {CONFIG_FILE}: missing keys "
            f"{head(result.missing_keys)}, unexpected keys {head(result.unexpected_keys)}. Use the "
            f"{WEIGHTS_FILE} published together with that {CONFIG_FILE}."
        )


def build_random_biggan(config: BigGANConfig, seed: int, power_iterations: int) -> BigGAN:
    """A seeded random BigGAN usable in eval mode: final batch norm set to identity, spectral norms converged.

    The library leaves the final batch norm's weight and bias uninitialised, and fresh spectral-norm
    vectors give wild weight scales, so eval output can be NaN without this.
    """
    with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG untouched
        torch.manual_seed(seed)
        model = BigGAN(config)
    with torch.no_grad():
        model.generator.bn.weight.fill_(1.0)
        model.generator.bn.bias.fill_(0.0)
        for module in model.modules():
            for hook in module._forward_pre_hooks.values():
                if isinstance(hook, SpectralNorm):
                    for _ in range(power_iterations):
                        hook.compute_weight(module, do_power_iteration=True)
    return model


SIZES = ("output_dim", "z_dim", "class_embed_dim", "channel_width", "num_classes")


def check_architecture(architecture: dict[str, Any], name: str) -> None:
    """Refuse an architecture whose sizes are not whole numbers >= 1 before torch fails on them deep inside."""
    for key in SIZES:
        value = architecture.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}: generator.architecture.{key}={value!r} must be a whole number >= 1 "
                              f"(e.g. generator.architecture.{key}=16).")


class BigGANGenerator(Generator):
    """BigGAN-deep as a frozen Generator: ``forward(z, y)`` takes class ids and returns images in [0, 1].

    ``architecture`` (a BigGANConfig as a dict) builds the network when ``pretrained`` is false; with
    weights, the folder's own config.json is used and must match the expected ``architecture['output_dim']``.
    """

    def __init__(self, architecture: dict[str, Any], weights: str | os.PathLike | None = None, pretrained: bool = True,
                 truncation: float = 1.0, name: str = "biggan_deep", init_seed: int = 0, power_iterations: int = 20):
        super().__init__()
        if not 0.0 < truncation <= 1.0:
            raise ConfigError(f"{name}: generator.truncation must be in (0, 1], got {truncation}.")
        self.name, self.truncation = name, float(truncation)
        if pretrained:
            folder = fetch_published(name) if weights is None else Path(weights).expanduser()
            if not folder.is_dir():
                raise WeightsError(missing_weights_message(name, f"generator.weights={folder} is not a folder."))
            config = read_biggan_config(folder, name)
            if config.output_dim != architecture["output_dim"]:
                raise WeightsError(
                    f"{name}: {folder / CONFIG_FILE} describes a {config.output_dim} px BigGAN, but this generator "
                    f"config expects {architecture['output_dim']} px; pick generator=biggan_deep_{config.output_dim}."
                )
            self.model = BigGAN(config)
            load_biggan_weights(self.model, folder / WEIGHTS_FILE, name)
        else:
            check_architecture(architecture, name)
            config = BigGANConfig.from_dict(dict(architecture))
            self.model = build_random_biggan(config, init_seed, power_iterations)
        self.dim_z, self.num_classes, self.resolution = config.z_dim, config.num_classes, config.output_dim
        self.class_names = imagenet_class_names() if config.num_classes == 1000 else None
        self.eval().requires_grad_(False)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Latents (N, dim_z) and class ids (N,) -> images (N, 3, R, R) in [0, 1]."""
        one_hot = F.one_hot(y, self.num_classes).to(z.dtype)
        return (self.model(z, one_hot, self.truncation) + 1.0) / 2.0
