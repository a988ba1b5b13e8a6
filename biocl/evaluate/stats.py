"""Statistics for reports: bootstrap confidence intervals and permutation tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

__all__ = ["bootstrap_ci", "weighted_mean", "permutation_pvalue"]


def weighted_mean(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean of ``values``, weighted by ``weights`` when given."""
    values = np.asarray(values, dtype=float)
    if weights is None:
        return float(values.mean())
    weights = np.asarray(weights, dtype=float)
    return float((values * weights).sum() / weights.sum())


def bootstrap_ci(unit_values: np.ndarray, *, weights: np.ndarray | None = None, n_resamples: int = 2000,
                 seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of a (weighted) mean, resampling units.

    Parameters
    ----------
    unit_values : array of shape (n_units,)
        The metric per resampling unit (a subject's accuracy, a sequence's correctness).
    weights : array of shape (n_units,) | None
        Unit weights (e.g. windows per subject) for a weighted mean.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling generator; the same seed gives the same interval.
    confidence : float
        Confidence level.

    Returns
    -------
    (low, high) : tuple of float
        The interval. With fewer than two units, or no spread, both ends equal the mean.
    """
    values = np.asarray(unit_values, dtype=float)
    point = weighted_mean(values, weights)
    if values.size < 2 or np.all(values == values[0]):
        return point, point
    rng = np.random.default_rng(seed)
    if weights is None:
        data: tuple[np.ndarray, ...] = (values,)

        def statistic(v: np.ndarray, axis: int = -1) -> np.ndarray:
            return v.mean(axis=axis)
    else:
        data = (values, np.asarray(weights, dtype=float))

        def statistic(v: np.ndarray, w: np.ndarray, axis: int = -1) -> np.ndarray:
            return (v * w).sum(axis=axis) / w.sum(axis=axis)
    result = stats.bootstrap(data, statistic, n_resamples=n_resamples, confidence_level=confidence,
                             method="percentile", paired=True, vectorized=True, random_state=rng)
    low, high = result.confidence_interval
    return float(low), float(high)


def permutation_pvalue(observed: float, null_statistic: Callable[[np.random.Generator], float], *,
                       n_permutations: int = 1000, seed: int = 0, greater: bool = True) -> float:
    """One-sided permutation p-value with the +1 correction.

    ``null_statistic(rng)`` computes the statistic once under the null (labels shuffled).
    """
    rng = np.random.default_rng(seed)
    null = np.array([null_statistic(rng) for _ in range(n_permutations)])
    exceed = (null >= observed).sum() if greater else (null <= observed).sum()
    return float((exceed + 1) / (n_permutations + 1))
