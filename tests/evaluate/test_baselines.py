"""Baselines: the lagged ridge regression (against scikit-learn) and chance levels."""

from __future__ import annotations

import numpy as np
import pytest

from biocl.evaluate.baselines import (RidgeGCV, chance_metrics, fit_lagged_ridge, lag_samples, lagged_design,
                                      predict_lagged_ridge)


@pytest.mark.parametrize("shape", [(300, 40), (30, 60)])
def test_ridge_gcv_matches_scikit_learn(shape):
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(0)
    n, p = shape
    x = rng.normal(size=(n, p))
    y = x @ rng.normal(size=(p, 3)) + 5 * rng.normal(size=(n, 3)) + 2.0
    alphas = [0.1, 1.0, 10.0, 100.0, 1000.0]
    ours, theirs = RidgeGCV(alphas).fit(x, y), RidgeCV(alphas=alphas).fit(x, y)
    assert ours.alpha_ == theirs.alpha_
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-10)
    np.testing.assert_allclose(ours.predict(x[:5]), theirs.predict(x[:5]), atol=1e-10)


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
    model = fit_lagged_ridge(brain, targets, lags, [1e-6])
    predicted = predict_lagged_ridge(model, brain, lags)
    assert predicted.shape == targets.shape
    np.testing.assert_allclose(predicted, targets, atol=1e-3)


def test_chance_metrics():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 30, size=60)
    words = np.array([f"w{i % 7}" for i in range(30)])
    chance = chance_metrics(true, words, [1, 10], 10)
    assert chance["top1"] == pytest.approx(1 / 30) and chance["top10"] == pytest.approx(10 / 30)
