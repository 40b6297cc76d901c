"""Imports every built-in assessor module so that their @register_assessor decorators run."""
