"""Where the audited images come from: world variants, a generator, or the user's folders and CSV files.

Every source becomes one or more ImageSets: a named group of images (n, 3, R, R) in [0, 1] at one common
resolution, with per-image labels where they are known (the true factors of world images, the asked class of
generated ones, the columns of a CSV file). A source is named by a short string, so that a Hydra list holds them:

    broad, variant:warm        a world variant (its true factors are the labels)
    generator                  the configured generator (asked classes as labels)
    folder:PATH                one group per subfolder of PATH
    csv:PATH                   a CSV with an ``image`` column (paths relative to the CSV) and a ``group`` column
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganalyze.errors import ConfigError
from ganalyze.images import load_image
from ganalyze.generators.base import Generator
from ganalyze.world import load_variant

MIN_PER_GROUP = 2  # a group needs two images at least: one to train on and one to test with, or a spread
SEED_STRIDE = 1_000_003  # the k-th source of one variant draws from seed + k * SEED_STRIDE: other images, same law
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass
class ImageSet:
    """A named group of images in [0, 1] at one resolution, with optional per-image labels (name -> (n,) array)."""

    name: str
    images: torch.Tensor
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ConfigError(f"group {self.name!r}: images must have shape (n, 3, H, W), got {tuple(self.images.shape)}.")
        if len(self.images) < MIN_PER_GROUP:
            raise ConfigError(f"group {self.name!r} holds {len(self.images)} image(s); every group needs at least "
                              f"{MIN_PER_GROUP} (an audit compares spreads and holds images out). Add images to it "
                              "or leave the group out.")
        for key, value in self.labels.items():
            if len(value) != len(self.images):
                raise ConfigError(f"group {self.name!r}: label {key!r} has {len(value)} values for "
                                  f"{len(self.images)} images.")

    def __len__(self) -> int:
        return len(self.images)


def resize(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Images at ``resolution`` x ``resolution`` (antialiased bilinear), unchanged when already there."""
    if images.shape[-2:] == (resolution, resolution):
        return images
    return F.interpolate(images, size=(resolution, resolution), mode="bilinear", antialias=True,
                         align_corners=False).clamp(0.0, 1.0)


def from_variant(name: str, n: int, seed: int, resolution: int = 32, label: str | None = None) -> ImageSet:
    """``n`` images of the world variant ``name`` drawn with ``seed``; the true factors are the labels."""
    images, factors = load_variant(name).sample(n, seed, resolution=resolution)
    labels = {k: v.numpy().astype(float) for k, v in factors.as_dict().items()}
    labels["class_id"] = labels["class_id"].astype(int)
    return ImageSet(label or name, images, labels)


@torch.no_grad()
def from_generator(generator: Generator, n: int, seed: int, resolution: int = 32, name: str = "generator",
                   class_weights: Sequence[float] | None = None, batch_size: int = 250) -> ImageSet:
    """``n`` generated images, classes drawn uniformly or with ``class_weights``; the asked class is the label."""
    z, y = generator.sample_latents(n, seed)
    if class_weights is not None:
        weights = torch.as_tensor(list(class_weights), dtype=torch.float64)
        if len(weights) != generator.num_classes or bool((weights < 0).any()) or float(weights.sum()) <= 0:
            raise ConfigError(f"class_weights must give one non-negative weight per generator class "
                              f"({generator.num_classes}), not all zero; got {list(class_weights)}.")
        y = torch.multinomial(weights, n, replacement=True, generator=torch.Generator().manual_seed(seed + 1))
    images = torch.cat([resize(generator(zb, yb).clamp(0, 1), resolution)
                        for zb, yb in zip(z.split(batch_size), y.split(batch_size))])
    return ImageSet(name, images, {"class_id": y.numpy().astype(int)})


def read_image(path: Path, resolution: int) -> torch.Tensor:
    """One image file as a (3, R, R) tensor in [0, 1], read by the package's one safe decoder (a non-image, a
    truncated file or a decompression bomb is a ConfigError naming it); the whole frame is resized, not cropped."""
    return resize(load_image(path).unsqueeze(0), resolution)[0]


def from_folder(root: str | Path, resolution: int = 32) -> list[ImageSet]:
    """One ImageSet per subfolder of ``root`` (the subfolder's name is the group), files sorted by name.

    Hidden files (``.name``) are skipped; any other non-image file, an empty subfolder or a subfolder with one
    image fails with a ConfigError naming it.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"folder source {str(root)!r} is not a folder; give a folder with one subfolder of images "
                          "per group (e.g. photos/groupA/*.png, photos/groupB/*.png).")
    groups = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(groups) < 2:
        raise ConfigError(f"folder source {str(root)!r} has {len(groups)} subfolder(s); an audit compares groups, so "
                          "give one subfolder of images per group, at least two.")
    sets = []
    for group in groups:
        files = sorted(p for p in group.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ConfigError(f"group folder {str(group)!r} is empty; every group needs at least {MIN_PER_GROUP} "
                              "images. Add images or remove the folder.")
        sets.append(ImageSet(group.name, torch.stack([read_image(f, resolution) for f in files]),
                             {"file": np.array([f.name for f in files])}))
    return sets


def from_csv(path: str | Path, resolution: int = 32, image_column: str = "image",
             group_column: str = "group") -> list[ImageSet]:
    """One ImageSet per value of ``group_column``; numeric columns become labels (e.g. a true score)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"csv source {str(path)!r} is not a file; give a CSV with columns {image_column!r} "
                          f"(image paths, relative to the CSV's folder) and {group_column!r}.")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0]) if rows else []
    if image_column not in columns or group_column not in columns:
        raise ConfigError(f"{path} needs columns {image_column!r} and {group_column!r}; it has {columns or 'no rows'}.")
    by_group: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_group.setdefault(row[group_column], []).append(row)
    if len(by_group) < 2:
        raise ConfigError(f"{path} names {len(by_group)} group(s) in column {group_column!r}; an audit needs two or more.")
    extra = [c for c in columns if c not in (image_column, group_column)]
    sets = []
    for group, members in sorted(by_group.items()):
        images = torch.stack([read_image(path.parent / r[image_column], resolution) for r in members])
        sets.append(ImageSet(group, images, {c: _column(members, c, path) for c in extra}))
    return sets


def _column(rows: list[dict[str, str]], column: str, path: Path) -> np.ndarray:
    """A CSV column as floats, or as strings when any value is not a number."""
    values = [r[column] for r in rows]
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.array(values)


def load_sources(specs: Sequence[str], n: int, seed: int, resolution: int = 32,
                 generator: Generator | None = None, generator_options: Mapping[str, object] | None = None) -> list[ImageSet]:
    """The ImageSets of a list of source strings (see the module docstring); repeated names get other seeds."""
    if not specs:
        raise ConfigError("no sources given; list at least one, e.g. sources=[broad,warm] or sources=[folder:photos].")
    sets: list[ImageSet] = []
    seen: dict[str, int] = {}
    for spec in specs:
        kind, colon, value = str(spec).partition(":")
        if not colon:
            kind, value = ("generator", "") if kind == "generator" else ("variant", kind)
        if kind == "variant":
            k = seen[value] = seen.get(value, -1) + 1
            sets.append(from_variant(value, n, seed + k * SEED_STRIDE, resolution,
                                     label=value if k == 0 else f"{value}#{k + 1}"))
        elif kind == "generator":
            if generator is None:
                raise ConfigError("a 'generator' source needs a generator; configure one (generator=shapes).")
            sets.append(from_generator(generator, n, seed, resolution, **dict(generator_options or {})))
        elif kind == "folder":
            sets.extend(from_folder(value, resolution))
        elif kind == "csv":
            sets.extend(from_csv(value, resolution))
        else:
            raise ConfigError(f"unknown source {spec!r}; a source is a world variant name (broad, variant:warm), "
                              "'generator', 'folder:PATH' or 'csv:PATH'.")
    names = [s.name for s in sets]
    if len(set(names)) != len(names):
        raise ConfigError(f"two groups share a name among {names}; rename a subfolder or CSV group.")
    return sets
