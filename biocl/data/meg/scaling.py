"""The level and the spread of brain windows: baseline correction, robust scaling, clamping.

Défossez et al. 2023 subtract from each window its per-channel mean over the baseline
[-0.5, 0] s, then standardise each recording's channels by their median and interquartile
range (fitted on the recording's training windows only) and clamp to [-20, 20].
:func:`biocl.data.meg.windows.fit_scalers` fits one :class:`RobustScaler` per recording.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["RobustScaler", "baseline_correct", "MIN_SCALER_WINDOWS"]

#: Fewer training windows than this make the median and IQR of a recording unreliable
#: (Défossez et al. 2023 fit the scaler on at least 200 windows).
MIN_SCALER_WINDOWS = 200


class RobustScaler:
    """Per-channel robust standardisation of windows, then clamping.

    scikit-learn's RobustScaler on windows: ``(x - median) / IQR`` per channel, the
    statistics taken over every sample of every fitted window, then values clipped to
    ``[-clamp, clamp]``. A channel with no spread (flat, or a dead bad channel) keeps
    scale 1. Fitting on fewer than :data:`MIN_SCALER_WINDOWS` windows warns (the paper fits
    on at least 200): the scale of a short recording is noisy.

    Parameters
    ----------
    quantile_range : tuple of float
        Lower and upper percentiles of the scale.
    clamp : float | None
        Clip bound after scaling; None keeps every value.
    """

    def __init__(self, quantile_range: tuple[float, float] = (25.0, 75.0), clamp: float | None = 20.0):
        self.quantile_range = quantile_range
        self.clamp = clamp

    def fit(self, windows: np.ndarray) -> RobustScaler:
        """Learn ``center_`` and ``scale_`` (per channel) from windows of shape (n, C, T)."""
        windows = np.asarray(windows)
        if windows.ndim != 3 or windows.shape[0] == 0:
            raise ValueError(f"expected windows of shape (n >= 1, channels, times), got {windows.shape}")
        if windows.shape[0] < MIN_SCALER_WINDOWS:
            warnings.warn(f"robust scaler fitted on {windows.shape[0]} windows, fewer than {MIN_SCALER_WINDOWS}: "
                          "its median and interquartile range are noisy (record longer, or use "
                          "data.scaler: none)", UserWarning, stacklevel=2)
        samples = windows.transpose(1, 0, 2).reshape(windows.shape[1], -1)
        low, median, high = np.percentile(samples, [self.quantile_range[0], 50.0, self.quantile_range[1]], axis=1)
        scale = high - low
        scale[~(scale > np.finfo(np.float32).tiny)] = 1.0
        self.center_ = median.astype(np.float32)
        self.scale_ = scale.astype(np.float32)
        self.n_windows_ = int(windows.shape[0])
        return self

    def transform(self, windows: np.ndarray) -> np.ndarray:
        """Scale and clamp windows of shape (n, C, T) (float32)."""
        if not hasattr(self, "center_"):
            raise RuntimeError("RobustScaler is not fitted")
        out = (np.asarray(windows, dtype=np.float32) - self.center_[:, None]) / self.scale_[:, None]
        if self.clamp is not None:
            np.clip(out, -self.clamp, self.clamp, out=out)
        return out

    def fit_transform(self, windows: np.ndarray) -> np.ndarray:
        """Fit on ``windows`` and transform them."""
        return self.fit(windows).transform(windows)


def baseline_correct(windows: np.ndarray, baseline: slice | None) -> np.ndarray:
    """Subtract each window's per-channel mean over ``baseline`` samples (windows (..., C, T))."""
    if baseline is None:
        return windows
    return windows - windows[..., baseline].mean(axis=-1, keepdims=True)
