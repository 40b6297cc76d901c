"""Class-conditional generators behind one protocol (see base.Generator), found by name (see registry)."""

from ganalyze.generators.base import Generator
from ganalyze.generators.registry import create_generator, list_generators, register_generator

__all__ = ["Generator", "create_generator", "list_generators", "register_generator"]
