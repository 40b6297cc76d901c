"""Bias audits: Name That Dataset, per-group disparity of an assessor, and how inclusive a generator is.

The same functions serve the ``ganalyze-audit`` command (conf/audit.yaml) and notebooks:

    from ganalyze.audit import load_sources, name_that_dataset
    result = name_that_dataset(load_sources(["broad", "warm", "cool"], n=600, seed=0))
"""

from ganalyze.audit.disparity import DisparitySettings, disparity, gender_shades_table, plot_disparity
from ganalyze.audit.inclusiveness import InclusivenessSettings, inclusiveness, markdown_table, plot_inclusiveness
from ganalyze.audit.name_that_dataset import ClassifierSettings, name_that_dataset, plot_confusion
from ganalyze.audit.report import REPORTS, run_audit
from ganalyze.audit.sources import ImageSet, from_csv, from_folder, from_generator, from_variant, load_sources

__all__ = [
    "REPORTS", "ClassifierSettings", "DisparitySettings", "ImageSet", "InclusivenessSettings", "disparity",
    "from_csv", "from_folder", "from_generator", "from_variant", "gender_shades_table", "inclusiveness",
    "load_sources", "markdown_table", "name_that_dataset", "plot_confusion", "plot_disparity",
    "plot_inclusiveness", "run_audit",
]
