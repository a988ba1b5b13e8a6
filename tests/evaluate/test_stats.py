"""Bootstrap CIs and permutation p-values against cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from biocl.evaluate.stats import bootstrap_ci, permutation_pvalue, unit_interval, weighted_mean, wilson_interval


def _proportion(successes: int, n: int) -> np.ndarray:
    return np.r_[np.ones(successes), np.zeros(n - successes)]


@pytest.mark.parametrize(("successes", "n"), [(600, 2000), (1800, 2000)])
def test_ci_of_a_proportion_matches_the_wilson_interval(successes: int, n: int) -> None:
    # For large n the percentile bootstrap of a mean of 0/1 outcomes and the Wilson score
    # interval agree to well under a percentage point.
    low, high = bootstrap_ci(_proportion(successes, n), n_resamples=2000, seed=0)
    wilson = stats.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert low == pytest.approx(wilson.low, abs=0.003)
    assert high == pytest.approx(wilson.high, abs=0.003)
    assert low < successes / n < high


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    values = np.random.default_rng(5).normal(size=50)
    first = bootstrap_ci(values, n_resamples=500, seed=11)
    assert bootstrap_ci(values, n_resamples=500, seed=11) == first
    other = bootstrap_ci(values, n_resamples=500, seed=12)
    assert other != first and other == pytest.approx(first, abs=0.1)


def test_confidence_level_widens_the_interval() -> None:
    values = np.random.default_rng(2).normal(size=40)
    low95, high95 = bootstrap_ci(values, n_resamples=1000, seed=0)
    low80, high80 = bootstrap_ci(values, n_resamples=1000, seed=0, confidence=0.8)
    assert low95 < low80 < values.mean() < high80 < high95


def test_weighted_interval_centres_on_the_weighted_mean() -> None:
    values = np.array([0.2, 0.9, 0.4, 0.6, 0.3, 0.8])
    weights = np.array([10.0, 1.0, 10.0, 1.0, 10.0, 1.0])
    point = weighted_mean(values, weights)
    assert point == pytest.approx((values * weights).sum() / weights.sum())
    low, high = bootstrap_ci(values, weights=weights, n_resamples=1000, seed=0)
    assert low < point < high
    # Equal weights give the unweighted interval.
    assert bootstrap_ci(values, weights=np.ones(6), n_resamples=1000, seed=0) == pytest.approx(
        bootstrap_ci(values, n_resamples=1000, seed=0))


@pytest.mark.parametrize("values", [[0.4], [0.5, 0.5, 0.5]])
def test_no_spread_gives_a_point_interval(values: list[float]) -> None:
    assert bootstrap_ci(np.array(values)) == (values[0], values[0])


def test_permutation_pvalue_bounds_and_reproducibility() -> None:
    def never_above(rng: np.random.Generator) -> float:
        return float(rng.random())  # always below the observed 2.0

    assert permutation_pvalue(2.0, never_above, n_permutations=99, seed=0) == pytest.approx(0.01)
    assert permutation_pvalue(-1.0, never_above, n_permutations=99, seed=0) == 1.0
    assert permutation_pvalue(-1.0, never_above, n_permutations=99, seed=0, greater=False) == pytest.approx(0.01)
    assert permutation_pvalue(0.5, never_above, n_permutations=200, seed=4) == permutation_pvalue(
        0.5, never_above, n_permutations=200, seed=4)


@pytest.mark.parametrize(("successes", "n"), [(0, 8), (3, 8), (8, 8), (40, 50)])
def test_wilson_interval_matches_scipy(successes: int, n: int) -> None:
    expected = stats.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(successes / n, n) == pytest.approx((expected.low, expected.high), abs=1e-9)


def test_unit_interval_stays_honest_at_the_ceiling() -> None:
    # Eight subjects all at 100 %: the bootstrap collapses to "1 to 1"; the reported interval
    # is the Wilson interval at n = 8 units, [0.68, 1.00].
    (low, high), method = unit_interval(np.ones(8))
    assert bootstrap_ci(np.ones(8)) == (1.0, 1.0)
    assert low == pytest.approx(0.676, abs=0.001) and high == 1.0
    assert "Wilson" in method and "8 units" in method


def test_unit_interval_keeps_the_bootstrap_where_it_is_wider() -> None:
    values = np.array([0.1, 0.9, 0.2, 0.8, 0.15, 0.85, 0.3, 0.7, 0.05, 0.95] * 3)
    (low, high), method = unit_interval(values, n_resamples=1000)
    assert (low, high) == bootstrap_ci(values, n_resamples=1000)
    assert "Wilson" not in method
    # Values outside [0, 1] are not proportions: no Wilson widening.
    (low, high), method = unit_interval(np.full(5, 3.0))
    assert (low, high) == (3.0, 3.0) and "Wilson" not in method
