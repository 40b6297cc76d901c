"""Uncertainty of the audits' numbers: exact binomial intervals, group-wise bootstrap, permutation tests.

Every audit compares groups of finite size, so every rate and gap it reports carries a 95% interval; a gap
counts as a finding only where its interval excludes 0 (and, for several groups, where the permutation test
of the largest gap agrees).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import binomtest

LEVEL = 0.95


def binomial_interval(successes: int, trials: int, level: float = LEVEL) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion (e.g. a classifier's held-out accuracy)."""
    if trials <= 0:
        return (float("nan"), float("nan"))
    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=level, method="exact")
    return (float(ci.low), float(ci.high))


def bootstrap_stat(groups: Sequence[np.ndarray], stat: Callable[[list[np.ndarray]], float], resamples: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``stat`` of ``resamples`` bootstrap copies, each group resampled with replacement on its own."""
    out = np.empty(resamples)
    for b in range(resamples):
        out[b] = stat([g[rng.integers(len(g), size=len(g))] for g in groups])
    return out


def percentile_interval(draws: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap draws (NaN draws left out)."""
    draws = draws[np.isfinite(draws)]
    if not len(draws):
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    return (float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail)))


def permutation_p_value(groups: Sequence[np.ndarray], stat: Callable[[list[np.ndarray]], float], permutations: int,
                        rng: np.random.Generator) -> float:
    """P(stat >= observed) when group membership is shuffled: the null of no difference between groups.

    ``stat`` maps the groups' value arrays to a number (e.g. the largest minus the smallest group mean);
    the selection of the extreme groups is redone in every permutation, so the test is fair to it.
    """
    observed = stat(list(groups))
    pooled = np.concatenate(groups)
    cuts = np.cumsum([len(g) for g in groups])[:-1]
    hits = sum(stat(np.split(rng.permutation(pooled), cuts)) >= observed - 1e-12 for _ in range(permutations))
    return float((hits + 1) / (permutations + 1))
