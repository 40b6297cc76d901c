"""Read the real images to edit: files or a folder -> (n, 3, R, R) in [0, 1] at the generator's resolution.

Each bad input stops the job with one paragraph naming the file and what would be right: not an image, empty
folder, too small, transparent, a pixel format with no plain RGB reading, or so many pixels that decoding
could exhaust memory (a decompression bomb). Greyscale, palette and CMYK images are converted to RGB;
non-square images are centre-cropped to a square, then resized (Lanczos) to the generator's resolution.
Decoding and its checks are ``ganalyze.images.decode``'s; the policy is this module's: a larger smallest
side, a lower pixel limit, transparency and high bit depths refused rather than converted.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganalyze.errors import ConfigError
from ganalyze.images import decode, square_resize

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MIN_SIDE = 8  # pixels: below this there is no shape to invert
MAX_PIXELS = 50_000_000  # refuse before decoding: a larger image is a likely decompression bomb
CONVERTIBLE = ("RGB", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", "1")
WITH_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


@dataclass
class LoadedImages:
    """The images (n, 3, R, R) in [0, 1], their names and what was done to each on reading."""

    images: torch.Tensor
    names: list[str]
    notes: list[str]


def image_paths(sources: str | os.PathLike | list[str | os.PathLike]) -> list[Path]:
    """The files to read: each file as given, and each folder's image files (by suffix, sorted, not recursive)."""
    items = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not items:
        raise ConfigError("images: no image given; pass images=<file or folder> or images=[a.png,b.png].")
    paths: list[Path] = []
    for item in (Path(str(i)) for i in items):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not p.name.startswith("."))
            if not found:
                raise ConfigError(f"images: the folder {item} holds no image files ({', '.join(IMAGE_SUFFIXES)}); "
                                  "give a folder with images in it, or the image files themselves.")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            raise ConfigError(f"images: {item} is neither a file nor a folder; give existing image files or a folder.")
    return paths


def read_rgb(path: Path) -> tuple[Image.Image, str]:
    """Open ``path`` as an opaque RGB image, with a note on any conversion; one-paragraph errors otherwise."""
    return decode(path, functools.partial(_as_rgb, path=path), max_pixels=MAX_PIXELS, min_side=MIN_SIDE)


def _as_rgb(image: Image.Image, path: Path) -> tuple[Image.Image, str]:
    """RGB from the modes that have one plain reading; transparency and high-bit-depth modes are refused."""
    mode = image.mode
    if mode == "P" and "transparency" in image.info or mode in WITH_ALPHA:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if alpha.min() < 255:
            raise ConfigError(f"images: {path} ({mode}) has transparent pixels, which the generator cannot make; "
                              "flatten it onto a background (e.g. the grey of the world) and save it as RGB.")
        return image.convert("RGBA").convert("RGB"), f"converted {mode} (opaque) to RGB"
    if mode not in CONVERTIBLE:
        raise ConfigError(f"images: {path} has pixel mode {mode!r} (e.g. 16-bit or float), which has no plain RGB "
                          "reading; save it as 8-bit RGB, greyscale or palette.")
    return image.convert("RGB"), "" if mode == "RGB" else f"converted {mode} to RGB"


def to_square_tensor(image: Image.Image, resolution: int) -> tuple[torch.Tensor, str]:
    """Centre-crop to a square and resize to ``resolution``: (3, R, R) in [0, 1], with a note on what was done."""
    width, height = image.size
    side = min(width, height)
    notes = [f"centre-cropped {width}×{height} to {side}×{side}"] if width != height else []
    notes += [f"resized to {resolution}×{resolution}"] if side != resolution else []
    array = np.asarray(square_resize(image, resolution, Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous(), "; ".join(notes)


def load_images(sources: str | os.PathLike | list[str | os.PathLike], resolution: int) -> LoadedImages:
    """Read image files and folders into one batch at ``resolution`` (see the module docstring for the checks)."""
    tensors, names, notes = [], [], []
    for path in image_paths(sources):
        rgb, converted = read_rgb(path)
        tensor, resized = to_square_tensor(rgb, resolution)
        tensors.append(tensor)
        names.append(path.name)
        notes.append("; ".join(n for n in (converted, resized) if n))
    return LoadedImages(torch.stack(tensors), names, notes)
