"""Scoring of the brain_speech pipeline on synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest


def test_permutation_test():
    from biocl.pipelines.brain_speech.evaluation import permutation_test

    rng = np.random.default_rng(0)
    true = rng.integers(0, 30, size=60)
    scores = rng.normal(size=(60, 30))
    scores[np.arange(60), true] += 5.0
    result = permutation_test(scores, true, 10, 200, seed=0)
    assert result["observed"] == 1.0 and result["p_value"] == pytest.approx(1 / 201)
    assert permutation_test(rng.normal(size=(60, 30)), true, 10, 200, seed=0)["p_value"] > 0.01
