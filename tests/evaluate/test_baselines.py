"""Baselines: the lagged ridge regression (against scikit-learn) and chance levels."""

from __future__ import annotations

import numpy as np
import pytest

from biocl.evaluate.baselines import (GroupedRidgeCV, chance_metrics, distinct_time_points, fit_lagged_ridge,
                                      lag_samples, lagged_design, predict_lagged_ridge)


@pytest.mark.parametrize("shape", [(300, 40), (60, 80)])
def test_grouped_ridge_cv_matches_scikit_learn(shape):
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold

    rng = np.random.default_rng(0)
    n, p = shape
    x = rng.normal(size=(n, p))
    y = x @ rng.normal(size=(p, 3)) + 5 * rng.normal(size=(n, 3)) + 2.0
    groups = np.repeat(np.arange(n // 6), 6)[:n]
    alphas = [0.1, 1.0, 10.0, 100.0, 1000.0]
    ours = GroupedRidgeCV(alphas, n_splits=4).fit(x, y, groups)
    folds = list(GroupKFold(n_splits=4).split(x, y, groups=groups))
    theirs = RidgeCV(alphas=alphas, cv=folds, scoring="neg_mean_squared_error").fit(x, y)
    assert ours.alpha_ == theirs.alpha_
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-8)
    np.testing.assert_allclose(ours.predict(x[:5]), theirs.predict(x[:5]), atol=1e-8)


def _overlapping_windows(rng, n_channels=6, n_times=60, stride=10, n_blocks=12, per_block=8, signal_share=0.05):
    """Windows six times overlapping over one continuous signal; targets weakly linear in it."""
    length = n_blocks * per_block * stride + n_times
    signal = rng.normal(size=(n_channels, length)).astype(np.float32)
    target = signal_share * signal[:2] + rng.normal(size=(2, length))
    starts = np.arange(n_blocks * per_block) * stride
    index = starts[:, None] + np.arange(n_times)[None, :]
    brain = signal[:, index].transpose(1, 0, 2)
    targets = target[:, index].transpose(1, 0, 2)
    groups = np.repeat(np.arange(n_blocks), per_block)
    return brain, targets, starts, groups


def test_every_distinct_time_point_enters_the_ridge_fit_once():
    brain, targets, starts, groups = _overlapping_windows(np.random.default_rng(2))
    keep = distinct_time_points(starts, brain.shape[2])
    # Every sample of the signal covered by a window is kept exactly once.
    covered = np.unique(starts[:, None] + np.arange(brain.shape[2])[None, :])
    kept = (starts[:, None] + np.arange(brain.shape[2])[None, :])[keep]
    assert np.array_equal(np.sort(kept), covered)
    # Kept samples sit near their window's centre, where every lag lies inside the window.
    inner = keep[1:-1]
    assert np.flatnonzero(inner.any(axis=0)).min() >= 20 and np.flatnonzero(inner.any(axis=0)).max() <= 40
    lags = np.arange(0, 3)
    model = fit_lagged_ridge(brain, targets, lags, [1.0, 1e3], groups, keep=keep)
    # The old fit kept every 10th sample at one offset: 10 % of the distinct time points.
    assert model.n_samples_ == covered.size


def test_ridge_penalty_is_chosen_on_whole_blocks_not_on_repeated_rows():
    # Each time point appears in six overlapping windows with the same target, and the
    # targets are pure noise (the best penalty is the largest). The old fit, leave-one-out
    # (generalised) cross-validation over every 10th sample of each window, sees each
    # left-out row's copies in training and picks a small penalty; folds of whole blocks,
    # on the distinct time points, see through it.
    brain, targets, starts, groups = _overlapping_windows(np.random.default_rng(3), n_channels=40, signal_share=0.0)
    lags = np.arange(0, 5)
    alphas = [1e-2, 1e0, 1e2, 1e3, 1e4, 1e5, 1e6]
    x = lagged_design(brain, lags).reshape(-1, lags.size * brain.shape[1])
    y = targets.transpose(0, 2, 1).reshape(x.shape[0], -1)
    from sklearn.linear_model import RidgeCV

    assert RidgeCV(alphas=alphas).fit(x[::10], y[::10]).alpha_ <= 1.0  # the old choice
    model = fit_lagged_ridge(brain, targets, lags, alphas, groups,
                             keep=distinct_time_points(starts, brain.shape[2]))
    assert model.alpha_ >= 1e5
    assert model.cv_errors_[-1] < model.cv_errors_[0]
    with pytest.raises(ValueError, match="at least 2 groups"):
        GroupedRidgeCV(alphas).fit(x[:10], y[:10], np.zeros(10))


def test_lagged_design_holds_each_channel_at_each_lag():
    windows = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    lags = lag_samples((-0.1, 0.1), sfreq_hz=10.0)
    assert lags.tolist() == [-1, 0, 1]
    design = lagged_design(windows, lags).reshape(2, 5, 3, 3)  # (n, T, lag, channel)
    for t in range(5):
        for j, lag in enumerate(lags):
            inside = 0 <= t + lag < 5
            expected = windows[:, :, t + lag] if inside else np.zeros((2, 3))
            np.testing.assert_array_equal(design[:, t, j], expected)


def test_lagged_ridge_recovers_a_linear_map_of_the_sensors_one_sample_later():
    rng = np.random.default_rng(1)
    brain = rng.normal(size=(40, 4, 30)).astype(np.float32)
    mixing = rng.normal(size=(2, 4))
    targets = np.zeros((40, 2, 30))
    targets[:, :, :-1] = np.einsum("fc,nct->nft", mixing, brain[:, :, 1:])
    lags = lag_samples((0.0, 0.2), sfreq_hz=10.0)
    model = fit_lagged_ridge(brain, targets, lags, [1e-6], np.arange(40) // 4)
    predicted = predict_lagged_ridge(model, brain, lags)
    assert predicted.shape == targets.shape
    np.testing.assert_allclose(predicted, targets, atol=1e-3)


def test_chance_metrics():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 30, size=60)
    words = np.array([f"w{i % 7}" for i in range(30)])
    chance = chance_metrics(true, words, [1, 10], 10)
    assert chance["top1"] == pytest.approx(1 / 30) and chance["top10"] == pytest.approx(10 / 30)
