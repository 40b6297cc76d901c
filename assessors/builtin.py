"""Imports every built-in assessor module so that their @register_assessor decorators run."""

from assessors import aesthetics, dataset_likeness, factors, memnet, object_size, shapes_size, variant_classifier

__all__ = ["aesthetics", "dataset_likeness", "factors", "memnet", "object_size", "shapes_size", "variant_classifier"]
