"""Transformers T(z, α, y) -> z': linear (GANalyze), class-dependent, nonlinear and circular (rotation) walks, and
conditional directions."""

from __future__ import annotations

import os

from ganalyze.errors import WeightsError
from ganalyze.pretrained import build_from_config, load_config, load_state_dict_strict
from ganalyze.transformers.base import Transformer
from ganalyze.transformers.class_dependent import ClassDependentTransformer
from ganalyze.transformers.conditional import ConditionalFromRuns, ConditionalTransformer, condition_on
from ganalyze.transformers.linear import LinearTransformer
from ganalyze.transformers.nonlinear import NonlinearTransformer
from ganalyze.transformers.rotation import ClassRotationTransformer, RotationTransformer

TRANSFORMERS: dict[str, type[Transformer]] = {
    cls.kind: cls for cls in (LinearTransformer, ClassDependentTransformer, NonlinearTransformer, RotationTransformer,
                      ClassRotationTransformer, ConditionalTransformer)
}


def load_transformer(folder: str | os.PathLike) -> Transformer:
    """Rebuild a transformer saved by ``save_pretrained`` (its kind picks the class); frozen, eval mode."""
    config = load_config(folder, "transformer")
    kind = config.pop("kind", None)
    if kind not in TRANSFORMERS:
        raise WeightsError(
            f"transformer: {folder}/config.json names kind {kind!r}; known kinds: {', '.join(sorted(TRANSFORMERS))}."
        )
    model = build_from_config(TRANSFORMERS[kind], config, folder)
    return load_state_dict_strict(model, folder).requires_grad_(False)


__all__ = [
    "TRANSFORMERS", "Transformer", "LinearTransformer", "ClassDependentTransformer", "NonlinearTransformer",
    "RotationTransformer", "ClassRotationTransformer", "ConditionalTransformer", "ConditionalFromRuns", "condition_on",
    "load_transformer",
]
