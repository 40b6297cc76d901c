"""Training objectives: the assessor score target (GANalyze), raise-one-hold-others, and edit targets (steerability walks)."""

from ganalyze.objectives.base import Objective
from ganalyze.objectives.hold import HoldObjective
from ganalyze.objectives.score import ScoreObjective

__all__ = ["HoldObjective", "Objective", "ScoreObjective"]
