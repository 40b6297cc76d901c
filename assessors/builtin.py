"""Imports every built-in assessor module so that their @register_assessor decorators run (one line each)."""

import assessors.aesthetics  # noqa: F401
import assessors.factors  # noqa: F401
import assessors.memnet  # noqa: F401
import assessors.object_size  # noqa: F401
import assessors.dataset_likeness  # noqa: F401
import assessors.variant_classifier  # noqa: F401
import assessors.shapes_size  # noqa: F401
