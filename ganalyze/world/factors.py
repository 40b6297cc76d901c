"""The true factors of a batch of world images: one tensor of shape (n,) per factor."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

CONTINUOUS_FACTORS: tuple[str, ...] = ("size", "x", "y", "hue", "obj_brightness", "bg_brightness", "texture")


@dataclass
class Factors:
    """Ground truth of n images; the renderer draws exactly what these say.

    class_id: long index into SHAPE_NAMES. size: area of the object as a fraction of the image area
    (the exact area of the ideal shape). x, y: centroid as a fraction of width / height (x right, y down).
    hue: degrees in [0, 360). obj_brightness: HSV value V of the object. bg_brightness: mean grey level of
    the background. texture: amplitude of the background's grey plaid texture.
    """

    class_id: torch.Tensor
    size: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    hue: torch.Tensor
    obj_brightness: torch.Tensor
    bg_brightness: torch.Tensor
    texture: torch.Tensor

    def __post_init__(self) -> None:
        n = len(self.class_id)
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, torch.Tensor) or value.shape != (n,):
                raise ValueError(f"Factors.{f.name} must be a tensor of shape ({n},), got {getattr(value, 'shape', value)}")

    def __len__(self) -> int:
        return len(self.class_id)

    def __getitem__(self, index: int | slice | torch.Tensor) -> Factors:
        """The factors of a subset of images (index by slice, index tensor or boolean mask)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Factors(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def as_dict(self) -> dict[str, torch.Tensor]:
        """All factors by name (class_id first), e.g. for tables and CSV files."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def cat(parts: list[Factors]) -> Factors:
        """Concatenate the factors of several batches."""
        return Factors(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Factors)})
