"""Statistics for reports: bootstrap confidence intervals and permutation tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

__all__ = ["bootstrap_ci", "unit_interval", "wilson_interval", "weighted_mean", "permutation_pvalue"]


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


def wilson_interval(proportion: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion observed over ``n`` independent units.

    Unlike the percentile bootstrap it does not collapse at 0 or 1: eight subjects all at
    100 % give [0.68, 1.00], not "1 to 1".
    """
    if n < 1:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = min(max(float(proportion), 0.0), 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))


def unit_interval(unit_values: np.ndarray, *, weights: np.ndarray | None = None, n_resamples: int = 2000,
                  seed: int = 0, confidence: float = 0.95) -> tuple[tuple[float, float], str]:
    """The interval reports give a mean over resampling units, and how it was made.

    A percentile bootstrap over the units (subjects, species, class pairs): the units, not
    the items inside them, are what varies. Where units of a metric bounded in [0, 1] sit at
    its ceiling or floor, the percentile bootstrap over few of them collapses ("1 to 1" with
    eight subjects at 100 %); there the interval is widened to contain the Wilson score
    interval with n = number of units, which stays honest at the bounds.

    Returns
    -------
    (low, high), method : tuple of float, str
    """
    values = np.asarray(unit_values, dtype=float)
    low, high = bootstrap_ci(values, weights=weights, n_resamples=n_resamples, seed=seed, confidence=confidence)
    method = (f"percentile bootstrap over {values.size} units, {n_resamples} resamples, seed {seed}")
    bounded = values.size and np.all((values >= 0) & (values <= 1))
    if bounded and np.any((values == 0) | (values == 1)):
        w_low, w_high = wilson_interval(weighted_mean(values, weights), values.size, confidence)
        if w_low < low or w_high > high:
            low, high = min(low, w_low), max(high, w_high)
            method += f", widened to the Wilson score interval at n = {values.size} units"
    return (float(low), float(high)), method


def permutation_pvalue(observed: float, null_statistic: Callable[[np.random.Generator], float], *,
                       n_permutations: int = 1000, seed: int = 0, greater: bool = True,
                       description: str = "permutation test") -> float:
    """One-sided permutation p-value with the +1 correction.

    ``null_statistic(rng)`` computes the statistic once under the null (labels shuffled);
    the permutations are shown as a stage called ``description`` (a bar on a terminal, one
    line off it: :func:`biocl.utils.console.progress`).
    """
    from biocl.utils.console import progress

    rng = np.random.default_rng(seed)
    null = np.array([null_statistic(rng) for _ in progress(range(n_permutations), total=n_permutations,
                                                           description=description, unit="permutation")])
    exceed = (null >= observed).sum() if greater else (null <= observed).sum()
    return float((exceed + 1) / (n_permutations + 1))
