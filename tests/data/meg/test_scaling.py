"""Baseline correction, robust scaling and clamping against hand-computed values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from biocl.data.meg.scaling import MIN_SCALER_WINDOWS, RobustScaler, baseline_correct
from biocl.data.meg.windows import WindowConfig

CONFIG = WindowConfig()


def test_baseline_of_a_ramp():
    ramp = np.arange(361, dtype=float)[None, None, :]
    out = baseline_correct(ramp, CONFIG.baseline_slice())
    # Mean of 0..60 is 30.
    np.testing.assert_allclose(out[0, 0, :3], [-30.0, -29.0, -28.0])
    np.testing.assert_allclose(out[0, 0, -1], 330.0)


def test_robust_scaler_hand_values():
    windows = np.array([[[1.0, 2.0, 3.0, 4.0, 5.0], [7.0] * 5]])  # (1 window, 2 channels, 5 samples)
    scaler = RobustScaler(clamp=1.0)
    assert scaler.fit(windows) is scaler
    # Channel 0: median 3, percentiles 25/75 of 1..5 are 2 and 4 -> IQR 2. Channel 1 is flat.
    np.testing.assert_allclose(scaler.center_, [3.0, 7.0])
    np.testing.assert_allclose(scaler.scale_, [2.0, 1.0])
    out = scaler.transform(windows)
    np.testing.assert_allclose(out[0, 0], [-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(RobustScaler(clamp=0.6).fit_transform(windows)[0, 0], [-0.6, -0.5, 0, 0.5, 0.6])
    assert not hasattr(RobustScaler(), "center_")


def test_clamp_at_twenty():
    windows = np.zeros((1, 1, 8))
    windows[0, 0, :4] = [-1, 1, -1, 1]
    windows[0, 0, 4] = 1000.0
    out = RobustScaler().fit(windows).transform(windows)
    assert out.max() == 20.0


def test_robust_scaler_warns_below_200_windows():
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="fitted on 199 windows, fewer than 200"):
        RobustScaler().fit(rng.normal(size=(MIN_SCALER_WINDOWS - 1, 2, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RobustScaler().fit(rng.normal(size=(MIN_SCALER_WINDOWS, 2, 4)))
