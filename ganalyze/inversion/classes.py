"""Which class to invert an image into: the one given, a classifier's choice, or the best reconstruction
among a classifier's top-k (or all classes of a small generator) (n, k candidate class ids)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ganalyze.checks import is_whole
from ganalyze.errors import ConfigError
from ganalyze.generators.base import Generator

CLASS_CHOICES = ("classifier", "top_k")


def default_classifier(generator: Generator) -> nn.Module | None:
    """The shipped shape classifier for a shapes generator with the world's classes; None for other generators."""
    from ganalyze.generators.shapes import ShapesGenerator
    from ganalyze.world import SHAPE_NAMES

    if not isinstance(generator, ShapesGenerator) or generator.num_classes != len(SHAPE_NAMES):
        return None
    from ganalyze.world.classifier import ShapeClassifier

    return ShapeClassifier.from_pretrained()


def class_names_of(generator: Generator) -> list[str] | None:
    """The generator's class names: its own (BigGAN's ImageNet names), the world's shapes, or None."""
    from ganalyze.generators.shapes import ShapesGenerator
    from ganalyze.world import SHAPE_NAMES

    names = getattr(generator, "class_names", None)
    if names:
        return list(names)
    return list(SHAPE_NAMES) if isinstance(generator, ShapesGenerator) and generator.num_classes == len(SHAPE_NAMES) else None


def given_classes(classes: Sequence[int] | torch.Tensor, n: int, num_classes: int) -> torch.Tensor:
    """Class ids given by the caller (one per image, or one for all) as (n, 1), checked against the generator."""
    ids = torch.as_tensor(classes, dtype=torch.long).reshape(-1)
    if len(ids) == 1:
        ids = ids.expand(n)
    if len(ids) != n:
        raise ConfigError(f"classes: give one class id per image ({n}) or one for all, got {len(ids)}.")
    if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= num_classes):
        raise ConfigError(f"classes must be ids in [0, {num_classes}), got {sorted(set(ids.tolist()))}.")
    return ids.unsqueeze(1)


@torch.no_grad()
def candidate_classes(generator: Generator, images: torch.Tensor, choice: str, top_k: int,
                      classifier: nn.Module | None) -> torch.Tensor:
    """(n, k) candidate class ids per image: the classifier's argmax (k = 1) or its top ``top_k``.

    Without a classifier, ``top_k`` tries every class when the generator has at most ``top_k`` of them.
    """
    if choice not in CLASS_CHOICES:
        raise ConfigError(f"inverter.class_choice={choice!r}; choose one of {', '.join(CLASS_CHOICES)}.")
    if not is_whole(top_k) or top_k < 1:
        raise ConfigError(f"inverter.top_k={top_k} must be a whole number >= 1.")
    n = len(images)
    if classifier is None:
        if choice == "top_k" and generator.num_classes <= top_k:
            return torch.arange(generator.num_classes, device=images.device).expand(n, -1)
        raise ConfigError(
            f"inverter.class_choice={choice} needs a classifier, and this generator ({type(generator).__name__}, "
            f"{generator.num_classes} classes) has none shipped. Give the images' classes (classes=[...]), or set "
            f"inverter.class_choice=top_k with inverter.top_k >= {generator.num_classes} to try every class.")
    logits = classifier.to(images.device).eval()(images)
    if logits.shape[1] != generator.num_classes:
        raise ConfigError(f"the classifier scores {logits.shape[1]} classes but the generator has "
                          f"{generator.num_classes}; give the images' classes or a matching classifier.")
    k = 1 if choice == "classifier" else min(int(top_k), generator.num_classes)
    return logits.topk(k, dim=1).indices
