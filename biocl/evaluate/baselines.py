"""Baselines a decoder must beat: a lagged ridge regression, and chance.

The ridge baseline is a lagged linear decoder: the target features at sample t are
regressed (:class:`GroupedRidgeCV`, scikit-learn's ``RidgeCV`` with ``GroupKFold``: alpha
by cross-validation over whole sentence blocks) on every sensor at samples t + lag, for
every lag of :func:`lag_samples`, on every distinct time point of the training windows
once (:func:`distinct_time_points`). In the brain-to-speech pipeline it is fitted per
recording, so it has every advantage a linear model can have: the "regression" row of
Table 2 of Défossez et al. (2023).

Chance (:func:`chance_metrics`) is what scores carrying no information achieve in segment
identification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from biocl.evaluate.retrieval import word_top_k_chance

__all__ = ["RidgeStatistics", "GroupedRidgeCV", "lag_samples", "lagged_design", "distinct_time_points",
           "lagged_rows", "fit_lagged_ridge", "predict_lagged_ridge", "chance_metrics"]


@dataclass
class RidgeStatistics:
    """Sufficient statistics of a ridge regression, one set per cross-validation fold.

    Rows are added chunk by chunk (:meth:`add`), so a design of tens of thousands of
    lagged time points never has to be held in memory at once; everything is float64.

    Parameters
    ----------
    n_folds : int
        Folds the rows are assigned to.
    n_features, n_targets : int
        Columns of the design and of the targets.
    """

    n_folds: int
    n_features: int
    n_targets: int

    def __post_init__(self) -> None:
        k, p, f = self.n_folds, self.n_features, self.n_targets
        self.dtype: type = np.float64
        self.n = np.zeros(k)
        self.sx, self.sy = np.zeros((k, p)), np.zeros((k, f))
        self.xx, self.xy, self.yy = np.zeros((k, p, p)), np.zeros((k, p, f)), np.zeros(k)

    def add(self, x: np.ndarray, y: np.ndarray, fold: np.ndarray) -> None:
        """Add rows ``x`` (n, p) with targets ``y`` (n, F), row ``i`` belonging to fold ``fold[i]``."""
        fold = np.asarray(fold)
        if np.asarray(x).dtype == np.float32:
            self.dtype = np.float32
        for f in np.unique(fold):
            rows = fold == f
            xf, yf = x[rows], np.asarray(y[rows], dtype=np.float64)
            self.n[f] += rows.sum()
            self.sx[f] += xf.sum(axis=0, dtype=np.float64)
            self.sy[f] += yf.sum(axis=0)
            # The p x p product in the input's precision (float32 halves its cost), summed in float64.
            self.xx[f] += (xf.T @ xf).astype(np.float64)
            self.xy[f] += (xf.T @ yf.astype(xf.dtype)).astype(np.float64)
            self.yy[f] += float((yf**2).sum())


def _solve(n: float, sx: np.ndarray, sy: np.ndarray, xx: np.ndarray, xy: np.ndarray, dtype: type = np.float64
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centred normal equations of the rows summed in the statistics: eigenvectors, values, X^T y, means.

    The eigendecomposition runs in ``dtype`` (float32 for float32 designs halves the cost
    of the one O(p^3) step per fold; the penalties tried are far above its rounding).
    """
    mx, my = sx / n, sy / n
    cxx = xx - n * np.outer(mx, mx)
    cxy = xy - n * np.outer(mx, my)
    values, vectors = np.linalg.eigh(cxx.astype(dtype))
    values, vectors = values.astype(np.float64), vectors.astype(np.float64)
    return vectors, np.clip(values, 0.0, None), vectors.T @ cxy, mx, my


class GroupedRidgeCV:
    """Multi-output ridge regression, one penalty chosen by cross-validation over groups.

    The estimator of ``sklearn.linear_model.RidgeCV(alphas, cv=GroupKFold(n_splits),
    scoring="neg_mean_squared_error")`` (intercept unpenalised, one alpha for all targets:
    the one of lowest mean squared error averaged over folds; a parity test checks they
    agree), computed from per-fold sufficient statistics (:class:`RidgeStatistics`): one
    eigendecomposition per fold makes every alpha cheap. Grouping matters for time series:
    overlapping windows repeat each time point, and leave-one-out errors over such rows
    (generalised cross-validation) are optimistic for small penalties; folds of whole
    sentence blocks are not.

    Parameters
    ----------
    alphas : sequence of float
        Candidate penalties.
    n_splits : int
        Folds (at most the number of groups).
    """

    def __init__(self, alphas: Sequence[float], n_splits: int = 5):
        self.alphas = [float(a) for a in alphas]
        self.n_splits = n_splits

    def folds(self, groups: np.ndarray) -> np.ndarray:
        """Fold of each row: scikit-learn's ``GroupKFold`` over ``groups``.

        Raises
        ------
        ValueError
            With fewer than two distinct groups.
        """
        from sklearn.model_selection import GroupKFold

        groups = np.asarray(groups)
        n_groups = np.unique(groups).size
        if n_groups < 2:
            raise ValueError(f"grouped cross-validation needs at least 2 groups, got {n_groups}")
        fold = np.empty(groups.size, np.int64)
        for f, (_, test) in enumerate(GroupKFold(n_splits=min(self.n_splits, n_groups)).split(groups, groups=groups)):
            fold[test] = f
        return fold

    def fit(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> GroupedRidgeCV:
        """Fit on rows ``x`` (n, p), targets ``y`` (n, F) and the group of each row."""
        fold = self.folds(groups)
        stats = RidgeStatistics(int(fold.max()) + 1, x.shape[1], np.asarray(y).reshape(len(y), -1).shape[1])
        stats.add(np.asarray(x), np.asarray(y).reshape(len(y), -1), fold)
        return self.fit_statistics(stats)

    def fit_statistics(self, stats: RidgeStatistics) -> GroupedRidgeCV:
        """Choose alpha on the folds of ``stats``, then fit on all its rows.

        Sets ``alpha_``, ``cv_errors_`` (mean squared error of each alpha), ``coef_``
        (targets, p), ``intercept_`` and ``n_samples_`` (rows that entered the fit).
        """
        total = [stats.n.sum(), stats.sx.sum(0), stats.sy.sum(0), stats.xx.sum(0), stats.xy.sum(0)]
        errors = np.zeros(len(self.alphas))
        for f in range(stats.n_folds):
            if stats.n[f] == 0:
                continue
            train = [t - part for t, part in zip(total, (stats.n[f], stats.sx[f], stats.sy[f], stats.xx[f],
                                                         stats.xy[f]), strict=True)]
            vectors, values, q, mx, my = _solve(*train, dtype=stats.dtype)
            for a, alpha in enumerate(self.alphas):
                coef = vectors @ (q / (values + alpha)[:, None])
                bias = my - mx @ coef
                sse = (stats.yy[f] - 2 * np.sum(coef * stats.xy[f]) - 2 * bias @ stats.sy[f]
                       + np.sum(coef * (stats.xx[f] @ coef)) + 2 * bias @ (stats.sx[f] @ coef)
                       + stats.n[f] * bias @ bias)
                errors[a] += sse / (stats.n[f] * stats.n_targets) / np.count_nonzero(stats.n)
        self.cv_errors_ = errors
        self.alpha_ = self.alphas[int(np.argmin(errors))]
        vectors, values, q, mx, my = _solve(*total, dtype=stats.dtype)
        coef = vectors @ (q / (values + self.alpha_)[:, None])
        self.coef_ = coef.T
        self.intercept_ = my - mx @ coef
        self.n_samples_ = int(total[0])
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


def distinct_time_points(starts: np.ndarray, n_times: int) -> np.ndarray:
    """Which samples of overlapping windows to keep so that every time point counts once.

    Parameters
    ----------
    starts : array of int, shape (n,)
        First sample of each window in one continuous signal.
    n_times : int
        Samples per window.

    Returns
    -------
    array of bool, shape (n, n_times)
        True where a window holds a time point nearest its own centre among the windows
        covering it (ties: the earlier window), so that the lags around it lie inside the
        window. Every distinct time point covered by a window is kept exactly once.
    """
    starts = np.asarray(starts, dtype=np.int64)
    n = starts.size
    absolute = (starts[:, None] + np.arange(n_times)[None, :]).ravel()
    distance = np.tile(np.abs(np.arange(n_times) - (n_times - 1) / 2.0), n)
    window = np.repeat(np.arange(n), n_times)
    order = np.lexsort((window, distance, absolute))
    first = np.ones(order.size, bool)
    first[1:] = absolute[order][1:] != absolute[order][:-1]
    keep = np.zeros(order.size, bool)
    keep[order[first]] = True
    return keep.reshape(n, n_times)


def lagged_rows(brain: np.ndarray, targets: np.ndarray, lags: np.ndarray, keep: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design rows, target rows and the window of each row, for the samples ``keep`` (n, T) of windows.

    ``brain`` (n, C, T) and ``targets`` (n, F, T) as in :func:`fit_lagged_ridge`.
    """
    design = lagged_design(brain, lags)
    window, sample = np.nonzero(keep)
    return design[window, sample], np.asarray(targets)[window, :, sample], window


def fit_lagged_ridge(brain: np.ndarray, targets: np.ndarray, lags: np.ndarray, alphas: Sequence[float],
                     groups: np.ndarray, *, keep: np.ndarray | None = None, n_splits: int = 5) -> GroupedRidgeCV:
    """A :class:`GroupedRidgeCV` from the lagged sensors of windows to their targets, sample by sample.

    Parameters
    ----------
    brain : array of shape (n, C, T)
        Sensor windows of one recording.
    targets : array of shape (n, F, T)
        The features to predict at each of the windows' samples.
    lags : array of int
        Lags in samples (:func:`lag_samples`).
    alphas : sequence of float
        Candidate penalties.
    groups : array of shape (n,)
        The group of each window (its sentence block): the cross-validation folds keep
        groups whole.
    keep : array of bool, shape (n, T) | None
        Samples entering the fit (:func:`distinct_time_points`); all by default.
    n_splits : int
        Cross-validation folds.

    Returns
    -------
    GroupedRidgeCV
        Fitted on one row per kept sample.
    """
    keep = np.ones((brain.shape[0], brain.shape[2]), bool) if keep is None else np.asarray(keep, bool)
    x, y, window = lagged_rows(brain, targets, lags, keep)
    return GroupedRidgeCV(alphas, n_splits).fit(x, y, np.asarray(groups)[window])


def predict_lagged_ridge(model: GroupedRidgeCV, brain: np.ndarray, lags: np.ndarray) -> np.ndarray:
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
