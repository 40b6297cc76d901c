"""Assessors: networks that score images; a registry to find them by name."""

from assessors.base import Assessor
from assessors.registry import create_assessor, freeze, list_assessors, register_assessor

__all__ = ["Assessor", "create_assessor", "freeze", "list_assessors", "register_assessor"]
