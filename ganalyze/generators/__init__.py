"""Class-conditional generators behind one protocol (see base.Generator)."""

from ganalyze.generators.base import Generator

__all__ = ["Generator"]
