"""Assessors: networks that score images, found by name. The protocol is documented in ``assessors.base``."""

from assessors.base import Assessor
from assessors.registry import assessor_from_config, create_assessor, freeze, list_assessors, register_assessor

__all__ = ["Assessor", "assessor_from_config", "create_assessor", "freeze", "list_assessors", "register_assessor"]
