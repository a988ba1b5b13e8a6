"""Baselines a decoder must beat: a lagged ridge regression, and chance.

The ridge baseline is a lagged linear decoder: the target features at sample t are
regressed (:class:`RidgeGCV`, scikit-learn's ``RidgeCV``: alpha by generalised
cross-validation) on every sensor at samples t + lag, for every lag of
:func:`lag_samples`. In the brain-to-speech pipeline it is fitted per recording, so it has
every advantage a linear model can have: the "regression" row of Table 2 of Défossez et
al. (2023).

Chance (:func:`chance_metrics`) is what scores carrying no information achieve in segment
identification.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from biocl.evaluate.retrieval import word_top_k_chance

__all__ = ["RidgeGCV", "lag_samples", "lagged_design", "fit_lagged_ridge", "predict_lagged_ridge",
           "chance_metrics"]


class RidgeGCV:
    """Multi-output ridge regression with the penalty chosen by generalised cross-validation.

    The same estimator as ``sklearn.linear_model.RidgeCV(alphas)`` (intercept unpenalised,
    one alpha for all targets chosen by the mean squared leave-one-out error), computed
    from one eigendecomposition of ``X^T X``: every alpha then costs ``n * p`` for the hat
    matrix diagonal instead of scikit-learn's ``n * p**2`` (a parity test checks they agree
    in float64; float32 input keeps the two large products in float32).

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties.
    """

    def __init__(self, alphas: list[float]):
        self.alphas = alphas

    def fit(self, x: np.ndarray, y: np.ndarray) -> RidgeGCV:
        """Fit on ``x`` (n, p) and ``y`` (n, targets); sets ``coef_`` (targets, p), ``intercept_``, ``alpha_``."""
        # The two n x p x p products run in the input's precision (float32 halves their cost on
        # large lagged designs); the eigendecomposition and everything after it in float64.
        dtype = np.float32 if np.asarray(x).dtype == np.float32 else np.float64
        x = np.asarray(x, dtype=dtype)
        y = np.asarray(y, dtype=np.float64)
        x_mean, y_mean = x.mean(axis=0, dtype=np.float64), y.mean(axis=0)
        xc, yc = x - x_mean.astype(dtype), y - y_mean
        eigenvalues, vectors = np.linalg.eigh((xc.T @ xc).astype(np.float64))
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        projected = (xc @ vectors.astype(dtype)).astype(np.float64)
        q = vectors.T @ (xc.T @ yc.astype(dtype)).astype(np.float64)
        n = x.shape[0]
        best = None
        for alpha in self.alphas:
            shrink = 1.0 / (eigenvalues + alpha)
            hat = (projected**2 @ shrink) + 1.0 / n
            residual = yc - projected @ (q * shrink[:, None])
            error = float(np.mean((residual / (1.0 - hat)[:, None]) ** 2))
            if best is None or error < best[0]:
                best = (error, alpha, vectors @ (q * shrink[:, None]))
        _, self.alpha_, coef = best
        self.coef_ = coef.T
        self.intercept_ = y_mean - x_mean @ coef
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions (n, targets)."""
        return np.asarray(x) @ self.coef_.T + self.intercept_


def lag_samples(lags_s: Sequence[float], sfreq_hz: float, step: int = 1) -> np.ndarray:
    """Every ``step``-th lag, in samples, from ``lags_s[0]`` to ``lags_s[1]`` seconds (both included)."""
    lo, hi = (int(round(v * sfreq_hz)) for v in lags_s)
    return np.arange(lo, hi + 1, step)


def lagged_design(windows: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """(n, C, T) windows -> (n, T, L * C) design: sample t holds every channel at t + lag, 0 outside."""
    n, c, t = windows.shape
    out = np.zeros((n, t, lags.size, c), np.float32)
    for j, lag in enumerate(lags):
        if lag >= 0:
            out[:, :t - lag, j] = windows[:, :, lag:].transpose(0, 2, 1)
        else:
            out[:, -lag:, j] = windows[:, :, :t + lag].transpose(0, 2, 1)
    return out.reshape(n, t, -1)


def fit_lagged_ridge(brain: np.ndarray, targets: np.ndarray, lags: np.ndarray, alphas: list[float], *,
                     time_step: int = 1) -> RidgeGCV:
    """A :class:`RidgeGCV` from the lagged sensors of windows to their targets, sample by sample.

    Parameters
    ----------
    brain : array of shape (n, C, T)
        Sensor windows of one recording.
    targets : array of shape (n, F, T)
        The features to predict at each of the windows' samples.
    lags : array of int
        Lags in samples (:func:`lag_samples`).
    alphas : list of float
        Candidate penalties.
    time_step : int
        Use every ``time_step``-th sample of each window (neighbouring samples of
        overlapping windows repeat each other).

    Returns
    -------
    RidgeGCV
        Fitted on ``(n * T / time_step, L * C)`` rows.
    """
    n_channels = brain.shape[1]
    x = lagged_design(brain, lags)[:, ::time_step].reshape(-1, lags.size * n_channels)
    y = targets[:, :, ::time_step].transpose(0, 2, 1).reshape(x.shape[0], -1)
    return RidgeGCV(alphas).fit(x, y)


def predict_lagged_ridge(model: RidgeGCV, brain: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Predicted targets (n, F, T) of sensor windows (n, C, T), with the lags the model was fitted with."""
    x = lagged_design(brain, lags)
    pred = model.predict(x.reshape(-1, x.shape[-1])).reshape(brain.shape[0], x.shape[1], -1)
    return pred.transpose(0, 2, 1)


def chance_metrics(true_index: np.ndarray, words: np.ndarray, ks: list[int], word_k: int) -> dict[str, float]:
    """What uninformative scores achieve in segment identification, by metric name.

    Parameters
    ----------
    true_index : array of int, shape (n,)
        Each query's true candidate column.
    words : array of str, shape (m,)
        The word of each candidate segment.
    ks : list of int
        The top-k accuracies: ``min(k, m) / m`` each.
    word_k : int
        The word-level top-k (frequency-based: :func:`biocl.evaluate.retrieval.word_top_k_chance`).

    Returns
    -------
    dict
        ``top<k>`` for every ``k``, ``word_top<word_k>`` and ``median_rank`` (``(m - 1) / 2``).
    """
    m = len(words)
    metrics = {f"top{k}": min(k, m) / m for k in ks}
    metrics[f"word_top{word_k}"] = word_top_k_chance(true_index, words, k=word_k)
    metrics["median_rank"] = (m - 1) / 2
    return metrics
