"""Dataset projection (Esser, Rombach & Ommer 2020): an autoencoder, a conditional invertible network on its
codes, and the projection of one content onto every data set: x* = D(T⁻¹(T(E(x) | y) | y*))."""

from ganalyze.projection.autoencoder import AutoEncoder
from ganalyze.projection.flow import ConditionalFlow
from ganalyze.projection.model import ProjectionModel

__all__ = ["AutoEncoder", "ConditionalFlow", "ProjectionModel"]
