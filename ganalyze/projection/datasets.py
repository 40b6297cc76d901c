"""Labelled image sets for the projection models: shapes-world variants by default, or image folders.

A folder source holds one sub-folder per data set; the sub-folder's name is the data-set label. Images are
kept as uint8 (N, 3, R, R) to hold tens of thousands in little memory, and turned into floats per batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ganalyze.errors import ConfigError
from ganalyze.images import load_image_uint8
from ganalyze.world import load_variant

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class LabelledImages:
    """Images (uint8, N×3×R×R) with data-set ids into ``names``."""

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float images in [0, 1] and labels of the rows ``index``."""
        return self.images[index].float() / 255.0, self.labels[index]


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] -> uint8 (rounded)."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def world_sets(names: list[str], per_set: int, seed: int, resolution: int = 32) -> LabelledImages:
    """``per_set`` images of each shapes-world variant in ``names``; variant i is drawn with seed (seed, i)."""
    if per_set <= 0 or not names:
        raise ConfigError(f"need at least one data set and per_set > 0, got sets={names}, per_set={per_set}")
    images, labels = [], []
    for i, name in enumerate(tqdm(names, desc="rendering data sets")):
        imgs, _ = load_variant(name).sample(per_set, seed=seed * 1000 + i, resolution=resolution)
        images.append(to_uint8(imgs))
        labels.append(torch.full((per_set,), i, dtype=torch.long))
    return LabelledImages(torch.cat(images), torch.cat(labels), list(names))


def read_image(path: Path, resolution: int) -> torch.Tensor:
    """One image file -> uint8 (3, R, R): RGB, centre-cropped to a square, resized; a bad file is a ConfigError."""
    return load_image_uint8(path, resolution)


def image_files(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def folder_sets(root: str | os.PathLike, names: list[str] | None, resolution: int, per_set: int | None = None) -> LabelledImages:
    """Images of the sub-folders ``names`` of ``root`` (all sub-folders if None), at most ``per_set`` each."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"data source {str(root)!r} is neither 'world' nor a folder; give a folder with one "
                          "sub-folder of images per data set.")
    names = names or sorted(p.name for p in root.iterdir() if p.is_dir())
    images, labels = [], []
    for i, name in enumerate(names):
        folder = root / name
        files = image_files(folder) if folder.is_dir() else []
        if not files:
            raise ConfigError(f"data set {name!r}: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
        files = files[:per_set] if per_set else files
        images += [read_image(f, resolution) for f in tqdm(files, desc=f"reading {name}")]
        labels.append(torch.full((len(files),), i, dtype=torch.long))
    return LabelledImages(torch.stack(images), torch.cat(labels), list(names))


def load_sets(source: str, names: list[str] | None, per_set: int | None, seed: int, resolution: int) -> LabelledImages:
    """The data sets a config names: ``source`` 'world' (variants ``names``) or a folder of sub-folders."""
    if source == "world":
        if not names or not per_set:
            raise ConfigError("data.source=world needs data.sets (a list of world variants) and data.per_set > 0.")
        return world_sets(list(names), per_set, seed, resolution)
    return folder_sets(source, list(names) if names else None, resolution, per_set)


def split_held_out(data: LabelledImages, per_set: int) -> tuple[LabelledImages, LabelledImages]:
    """(training part, held-out part): the last ``per_set`` images of every data set are held out."""
    held = torch.zeros(len(data), dtype=torch.bool)
    for i, name in enumerate(data.names):
        rows = (data.labels == i).nonzero().flatten()
        if len(rows) <= per_set:
            raise ConfigError(f"data set {name!r} has {len(rows)} images, too few to hold out {per_set}; "
                              "lower data.held_out or add images.")
        held[rows[len(rows) - per_set :]] = True
    part = lambda mask: LabelledImages(data.images[mask], data.labels[mask], data.names)  # noqa: E731
    return part(~held), part(held)
