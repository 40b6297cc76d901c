"""Class selection by index or by name (e.g. ImageNet names for BigGAN), with clear errors."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files

from ganalyze.errors import ConfigError, UnknownNameError


@lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class names in index order (shipped as data: no nltk/wordnet needed)."""
    text = files("ganalyze").joinpath("data/imagenet_classes.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def shape_class_names(num_classes: int) -> tuple[str, ...] | None:
    """Names of the shapes generator's classes: the world's shapes in order (circle, square, ...); a generator of
    several world variants (class = variant × shapes + shape) gets <shape>/<variant index>; None if they do not fit."""
    from ganalyze.world.shapes import SHAPE_NAMES

    if num_classes == len(SHAPE_NAMES):
        return SHAPE_NAMES
    if num_classes % len(SHAPE_NAMES):
        return None
    return tuple(f"{SHAPE_NAMES[c % len(SHAPE_NAMES)]}/{c // len(SHAPE_NAMES)}" for c in range(num_classes))


def resolve_classes(classes: Sequence[int | str] | None, num_classes: int,
                    names: Sequence[str] | None = None) -> list[int] | None:
    """Turn class ids and/or names into ids in [0, num_classes); None stays None (all classes)."""
    if classes is None:
        return None
    if isinstance(classes, (int, str)):
        classes = [classes]
    lookup = {name.lower(): i for i, name in enumerate(names or ())}
    ids = []
    for c in classes:
        if isinstance(c, str) and not c.strip().isdigit():
            if c.lower() not in lookup:
                if not lookup:
                    raise UnknownNameError(
                        f"unknown class name {c!r}: this generator's classes have no names; use ids 0-{num_classes - 1}."
                    )
                close = difflib.get_close_matches(c.lower(), list(lookup), n=3, cutoff=0.6)
                hint = f" (did you mean {', '.join(repr(x) for x in close)}?)" if close else ""
                raise UnknownNameError(
                    f"unknown class name {c!r}{hint}; use one of this generator's class names or an id 0-{num_classes - 1}."
                )
            ids.append(lookup[c.lower()])
        else:
            i = int(c)
            if not 0 <= i < num_classes:
                raise ConfigError(f"class id {i} is out of range: this generator has classes 0-{num_classes - 1}.")
            ids.append(i)
    if not ids:
        raise ConfigError("classes is an empty list; give at least one class id or name, or null for all classes.")
    return ids
