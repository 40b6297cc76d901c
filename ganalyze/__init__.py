"""ganalyze: assessor-guided editing of generative models (GANalyze, steerability, dataset projection)."""

__version__ = "0.1.0"
