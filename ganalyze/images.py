"""Reading user images safely: one place that turns any image file into RGB, or into one clear error.

Every command that reads a user's image files decodes them with :func:`decode`: an empty path, a missing file,
an empty file, text or another non-image, a truncated or corrupted file, an image too small and a decompression
bomb (more than MAX_PIXELS pixels) each raise a :class:`ganalyze.errors.ConfigError` naming the file, and EXIF
orientation is applied. What becomes of colour is the caller's policy: :func:`read_rgb` / :func:`load_image`
(projection inputs) turn any mode (palette, grey, 16-bit, with alpha, CMYK) into RGB, transparent parts on
white; ``ganalyze.inversion.images`` refuses transparency and high bit depths instead.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ganalyze.errors import ConfigError

MAX_PIXELS = 8192 * 8192  # a larger image is refused before it is decoded (a few bytes can declare billions)
MIN_SIDE = 2
T = TypeVar("T")


def _checked_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, refusing an empty path, a missing file, a folder and an empty file."""
    if not str(path).strip():
        raise ConfigError("an image path is empty; give an image file (e.g. photos/cat.png).")
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not an image file; give the image files, or a command option that "
                          "takes a folder.")
    if not path.is_file():
        raise ConfigError(f"image file {path} does not exist; check the path.")
    if path.stat().st_size == 0:
        raise ConfigError(f"image file {path} is empty (0 bytes); replace or remove it.")
    return path


def decode(path: str | os.PathLike, convert: Callable[[Image.Image], T], max_pixels: int = MAX_PIXELS,
           min_side: int = MIN_SIDE) -> T:
    """The image at ``path`` decoded (EXIF rotation applied) and passed to ``convert``, the caller's colour policy.

    The one reader of user image files: a bad path, a non-image, a truncated file, a decompression bomb (more than
    ``max_pixels``) or a side under ``min_side`` is one ConfigError naming the file; ``convert`` may raise its own.
    """
    path = _checked_path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > max_pixels:
                    raise Image.DecompressionBombError(f"{img.width}×{img.height} pixels")
                img.load()
                img = ImageOps.exif_transpose(img)
                if min(img.size) < min_side:
                    raise ConfigError(f"image file {path} is {img.width}×{img.height} pixels; an image needs at least "
                                      f"{min_side}×{min_side}.")
                return convert(img)
    except ConfigError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        size = str(err) if str(err).endswith(" pixels") else "too many pixels"
        raise ConfigError(f"image file {path} declares {size}; images of more than {max_pixels:,} pixels are refused "
                          "(a decompression bomb or a huge scan): downscale it first.") from None
    except UnidentifiedImageError:
        raise ConfigError(f"{path} is not an image Pillow can read (text or another format?); give PNG, JPEG, BMP "
                          "or WebP files, or remove it.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ConfigError(f"image file {path} is truncated or corrupted ({err}); replace or remove it.") from None


def read_rgb(path: str | os.PathLike) -> Image.Image:
    """The image at ``path`` decoded into memory as RGB (alpha composited on white, 16-bit grey scaled)."""
    return decode(path, _to_rgb)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparent pixels become white."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode.startswith("I;16") or img.mode in ("I", "F"):  # 16-bit or float grey: scale to 8 bits, not clip
        array = np.asarray(img, dtype=np.float64)
        top = array.max() if array.max() > 0 else 1.0
        return Image.fromarray((array / top * 255).round().astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


def square_resize(img: Image.Image, resolution: int, resample: int = Image.BICUBIC) -> Image.Image:
    """The centre square of ``img`` resized to ``resolution``² (bicubic unless ``resample`` says otherwise)."""
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((resolution, resolution), resample)


def load_image_uint8(path: str | os.PathLike, resolution: int | None = None) -> torch.Tensor:
    """An image file -> uint8 tensor (3, H, W); with ``resolution``, its centre square at resolution²."""
    img = read_rgb(path)
    img = square_resize(img, resolution) if resolution is not None else img
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)


def load_image(path: str | os.PathLike, resolution: int | None = None) -> torch.Tensor:
    """An image file -> float tensor (3, H, W) in [0, 1], the layout every generator and assessor uses."""
    return load_image_uint8(path, resolution).float() / 255.0
