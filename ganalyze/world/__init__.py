"""The embedded shapes world: procedural images with known factors, biased variants, pixel measurement."""

from ganalyze.world.factors import CONTINUOUS_FACTORS, Factors
from ganalyze.world.measure import MEASURED_FACTORS, measure
from ganalyze.world.render import render
from ganalyze.world.shapes import SHAPE_NAMES
from ganalyze.world.variants import WorldVariant, list_variants, load_variant

__all__ = [
    "CONTINUOUS_FACTORS", "Factors", "MEASURED_FACTORS", "SHAPE_NAMES", "WorldVariant",
    "list_variants", "load_variant", "measure", "render",
]
