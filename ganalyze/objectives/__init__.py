"""Training objectives: the assessor score target (GANalyze) and edit targets (steerability walks)."""

from ganalyze.objectives.base import Objective
from ganalyze.objectives.score import ScoreObjective

__all__ = ["Objective", "ScoreObjective"]
