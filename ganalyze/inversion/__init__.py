"""Inversion (G⁻¹) and real-image editing: images -> (z, y) for a generator, then a walk along a trained direction."""

from ganalyze.inversion.edit import EditResult, edit_images
from ganalyze.inversion.encoder import LatentEncoder
from ganalyze.inversion.images import load_images
from ganalyze.inversion.inverter import Inversion, Inverter

__all__ = ["EditResult", "Inversion", "Inverter", "LatentEncoder", "edit_images", "load_images"]
