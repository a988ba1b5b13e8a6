"""Scoring of the brain_speech pipeline on synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def test_permutation_test():
    from biocl.pipelines.brain_speech.evaluation import permutation_test

    rng = np.random.default_rng(0)
    true = rng.integers(0, 30, size=60)
    scores = rng.normal(size=(60, 30))
    scores[np.arange(60), true] += 5.0
    result = permutation_test(scores, true, 10, 200, seed=0)
    assert result["observed"] == 1.0 and result["p_value"] == pytest.approx(1 / 201)
    assert permutation_test(rng.normal(size=(60, 30)), true, 10, 200, seed=0)["p_value"] > 0.01


def _scores(rng, n=120, m=40, signal=1.5):
    true = rng.integers(0, m, size=n)
    scores = rng.normal(size=(n, m))
    scores[np.arange(n), true] += signal
    return scores, true


def test_word_level_metric_does_not_depend_on_a_decoders_score_scale():
    from biocl.evaluate.retrieval import word_top_k
    from biocl.pipelines.brain_speech.evaluation import fit_temperature, identification

    rng = np.random.default_rng(0)
    valid, valid_true = _scores(rng)
    test, test_true = _scores(rng)
    words = np.array([f"w{i % 9}" for i in range(40)])
    metrics = {}
    for scale in (1.0, 10.0, 0.01):
        temperature = fit_temperature(scale * valid, valid_true)
        metrics[scale], _ = identification(scale * test, test_true, words, [1, 10], 5, temperature)
        assert temperature == pytest.approx(scale * fit_temperature(valid, valid_true))
    assert metrics[10.0]["word_top5"] == metrics[1.0]["word_top5"] == metrics[0.01]["word_top5"]
    # The old metric (a softmax of the raw scores) moved with the scale.
    raw = [word_top_k(scale * test, test_true, words, k=5).mean() for scale in (0.01, 1.0, 10.0)]
    assert len(set(raw)) > 1


def test_temperature_is_fitted_to_the_validation_likelihood():
    from biocl.pipelines.brain_speech.evaluation import TEMPERATURE_GRID, fit_temperature

    rng = np.random.default_rng(1)
    strong, true = _scores(rng, signal=6.0)
    weak, weak_true = _scores(rng, signal=0.3)
    spread = lambda x: x.std()  # noqa: E731
    # Confident, correct scores deserve a sharp softmax; nearly uninformative ones a flat one.
    assert fit_temperature(strong, true) / spread(strong) < fit_temperature(weak, weak_true) / spread(weak)
    assert TEMPERATURE_GRID.min() * spread(weak) <= fit_temperature(weak, weak_true) <= TEMPERATURE_GRID.max() * spread(weak)
    assert fit_temperature(np.zeros((4, 3)), np.zeros(4, int)) == 1.0


class _Bundle:
    """The two things :func:`choose_scoring` reads of a data bundle: segments and batches."""

    def __init__(self, speech: np.ndarray, prediction: np.ndarray):
        from types import SimpleNamespace

        n = speech.shape[0]
        self.tables = {"valid": SimpleNamespace(segment=np.arange(n).astype(str))}
        self.speech, self.prediction = torch.from_numpy(speech), torch.from_numpy(prediction)

    def rows(self, split: str) -> np.ndarray:
        return np.arange(self.speech.shape[0])

    def batch(self, split: str, rows: np.ndarray) -> dict:
        return {"speech": self.speech[rows], "brain": self.prediction[rows]}


def _regression_like(rng, n=80, features=12, times=20, signal=0.1):
    """Speech features and a weak regression's predictions of them.

    Each segment is one spectral profile scaled by its loudness frame by frame (silences and
    voiced frames: a gamma envelope), so segments differ in how much they lie along the mean
    frame; the prediction is the training mean frame (the intercept) plus a weak signal.
    """
    profile = rng.uniform(0.5, 1.5, size=(1, features, 1))
    speech = profile * rng.gamma(2.0, 1.0, size=(n, 1, times)) + 0.3 * rng.normal(size=(n, features, times))
    mean_frame = speech.mean(axis=(0, 2), keepdims=True)
    prediction = mean_frame + signal * (speech - mean_frame) + 0.3 * rng.normal(size=speech.shape)
    return speech.astype(np.float32), prediction.astype(np.float32)


def test_an_intercept_no_longer_ranks_every_window_the_same():
    """A regression's mean frame dominates the loss's score; the correlation rule is chosen on validation."""
    from biocl.pipelines.brain_speech.evaluation import choose_scoring

    speech, prediction = _regression_like(np.random.default_rng(0))
    bundle = _Bundle(speech, prediction)
    chosen = choose_scoring(bundle, "candidates", ["loss", "correlation"], lambda batch, rows: batch["brain"])
    assert chosen["rule"] == "correlation"
    assert chosen["valid_top10"]["loss"] < 0.6 and chosen["valid_top10"]["correlation"] > 0.9
    assert choose_scoring(bundle, "candidates", ["loss"], lambda batch, rows: batch["brain"])["rule"] == "loss"


def test_a_tie_between_rules_keeps_the_first_listed():
    from biocl.pipelines.brain_speech.evaluation import choose_scoring

    rng = np.random.default_rng(1)
    speech = rng.normal(size=(30, 4, 10)).astype(np.float32)
    bundle = _Bundle(speech, speech)  # a perfect decoder: top-10 is 1 under either rule
    for rules in (["loss", "correlation"], ["correlation", "loss"]):
        assert choose_scoring(bundle, "candidates", rules, lambda batch, rows: batch["brain"])["rule"] == rules[0]


def test_ridge_predictions_leave_out_the_intercept():
    """A ridge that learned nothing but the mean frame predicts zeros, not the same frame for every window."""
    from types import SimpleNamespace

    from biocl.evaluate.baselines import GroupedRidgeCV
    from biocl.pipelines.brain_speech.evaluation import ridge_predictor

    channels, features, times = 3, 4, 6
    config = SimpleNamespace(sfreq_hz=100.0, n_times=times)
    bundle = SimpleNamespace(config=config, silence=np.zeros(features), tables={"test": SimpleNamespace(
        recording=np.zeros(5, int))}, recordings=[SimpleNamespace(n_channels=channels)])
    evaluate = SimpleNamespace(ridge_lags_s=(0.0, 0.02), ridge_lag_step=1)
    model = GroupedRidgeCV([1.0])
    model.coef_ = np.zeros((features, 3 * channels))
    model.intercept_ = np.arange(1.0, features + 1)
    predict = ridge_predictor(bundle, {0: model}, evaluate, "test")
    rows = np.arange(5)
    out = predict({"brain": torch.randn(5, channels, times)}, rows)
    assert out.shape == (5, features, times)
    assert torch.count_nonzero(out) == 0


def test_word_calibration_is_the_word_metrics_softmax_at_its_temperature():
    from biocl.evaluate.retrieval import word_top_k
    from biocl.pipelines.brain_speech.evaluation import word_calibration

    rng = np.random.default_rng(3)
    scores, true = _scores(rng, n=80, m=24, signal=2.0)
    words = np.array([f"w{j % 9}" for j in range(24)], dtype=object)  # 9 words, several segments each
    temperature = 0.7
    entry = word_calibration(scores, true, words, temperature)
    # By hand: softmax over segments at the temperature, summed per word; the top word's probability.
    logits = scores / temperature
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    names = sorted(set(words))
    word_probs = np.stack([probs[:, words == w].sum(axis=1) for w in names], axis=1)
    assert entry["confidence"] == pytest.approx(word_probs.max(axis=1).tolist(), abs=1e-6)
    assert entry["correct"] == word_top_k(scores / temperature, true, words, k=1).astype(int).tolist()
    assert all(1 / 9 - 1e-9 <= c <= 1 for c in entry["confidence"]) and set(entry["correct"]) <= {0, 1}
    # A decoder's score scale is absorbed by its fitted temperature: the same probabilities.
    assert word_calibration(10 * scores, true, words, 10 * temperature)["confidence"] == pytest.approx(
        entry["confidence"], abs=1e-6)
    # A higher temperature flattens the softmax: the mean confidence drops.
    assert np.mean(word_calibration(scores, true, words, 5 * temperature)["confidence"]) < np.mean(
        entry["confidence"])
