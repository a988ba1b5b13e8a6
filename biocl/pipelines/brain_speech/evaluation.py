"""Scoring for the brain-to-speech pipeline: the deep model, the ridge baseline, the oracle, chance.

Every decoder is scored the same way: it predicts a speech window from each brain window,
and the prediction is compared with every distinct candidate segment of the split, then
ranked (:mod:`biocl.evaluate.retrieval`). The comparison is one of ``evaluate.scoring_rules``,
chosen per decoder on the validation windows (:func:`choose_scoring`): the loss's score
(``<prediction, candidate> / ||candidate||`` by default), which the deep model is trained
for, or the Pearson correlation over features x time, which ignores a constant offset. A
regression's prediction carries its intercept, the mean speech frame, and under the loss's
score that offset alone ranks the candidates most like the mean first for every window
(the ridge baseline scored below chance on the quick protocol before the rule was chosen).
The oracle of simulated data skips the prediction and scores candidates with the generative
model itself.

The ridge baseline (:mod:`biocl.evaluate.baselines`) is fitted here one per recording, on
every distinct time point of its training windows, with lags spanning
``evaluate.ridge_lags_s`` of the (already 150 ms shifted) brain window and the penalty
chosen by cross-validation over sentence blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from biocl.data.meg.windows import batch_arrays, extract_brain
from biocl.evaluate.baselines import (GroupedRidgeCV, RidgeStatistics, distinct_time_points, lag_samples, lagged_rows,
                                      predict_lagged_ridge)
from biocl.evaluate.retrieval import (distinct_candidates, segment_identification, top_k_accuracy, top_k_curve,
                                      true_ranks, word_top_k)
from biocl.evaluate.stats import bootstrap_ci, permutation_pvalue
from biocl.pipelines.brain_speech.data import BrainSpeechData

__all__ = ["Predictor", "candidate_matrix", "score_windows", "model_predictor", "fit_ridge", "ridge_predictor",
           "oracle_window_scores", "fit_temperature", "TEMPERATURE_GRID", "choose_scoring",
           "oracle_temperature", "identification", "permutation_test", "subject_rows", "subject_table",
           "subject_interval", "worst_sentences", "WORST_CASE_METRIC", "word_probabilities", "word_calibration", "top_k_series"]

Predictor = Callable[[dict[str, torch.Tensor], np.ndarray], torch.Tensor]


def candidate_matrix(bundle: BrainSpeechData, split: str, rows: np.ndarray, normalize: str
                     ) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """The distinct segments of windows ``rows`` as flattened, normalised speech candidates.

    Returns
    -------
    candidates : tensor (m, F * T)
    representatives : array (m,) of positions in ``rows`` (each segment's first window)
    true_index : array (len(rows),) of candidate columns
    """
    reps, true_index = distinct_candidates(bundle.tables[split].segment[rows])
    speech = bundle.batch(split, rows[reps])["speech"].flatten(1).float()
    if normalize in ("candidates", "both"):
        speech = speech / speech.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return speech, reps, true_index


def _unit_centred(x: torch.Tensor) -> torch.Tensor:
    x = x - x.mean(dim=1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def score_windows(predict: Predictor, bundle: BrainSpeechData, split: str, rows: np.ndarray,
                  candidates: torch.Tensor, *, normalize: str, batch_size: int, device: torch.device,
                  rule: str = "loss") -> np.ndarray:
    """Scores (n, m) of windows ``rows`` against ``candidates``.

    ``predict(batch, batch_rows)`` returns the predicted speech windows (B, F, T) of a batch.
    ``rule`` "loss" scores as the loss ``normalize`` says; "correlation" is the Pearson
    correlation of the flattened prediction and candidate.
    """
    if rule not in ("loss", "correlation"):
        raise ValueError(f"unknown scoring rule {rule!r}")
    candidates = candidates.to(device)
    if rule == "correlation":
        candidates = _unit_centred(candidates)
    out = []
    for start in range(0, rows.size, batch_size):
        chunk = rows[start:start + batch_size]
        batch = {k: v.to(device) for k, v in bundle.batch(split, chunk).items()}
        queries = predict(batch, chunk).to(device).float().flatten(1)
        if rule == "correlation":
            queries = _unit_centred(queries)
        elif normalize == "both":
            queries = queries / queries.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append((queries @ candidates.T).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, candidates.shape[0]))


def model_predictor(net: torch.nn.Module, device: torch.device, bf16: bool) -> Predictor:
    """Predictions of a trained :class:`~biocl.pipelines.brain_speech.pipeline.BrainSpeechNet` (eval mode, no grad)."""
    from biocl.train import autocast

    def predict(batch: dict[str, torch.Tensor], rows: np.ndarray) -> torch.Tensor:
        net.eval()
        with torch.no_grad(), autocast(device, enabled=bf16):
            return net(batch["brain"], batch["subjects"], batch["positions"], batch["position_mask"])

    return predict


def _lags(bundle: BrainSpeechData, evaluate: Any) -> np.ndarray:
    return lag_samples(evaluate.ridge_lags_s, bundle.config.sfreq_hz, evaluate.ridge_lag_step)


def fit_ridge(bundle: BrainSpeechData, evaluate: Any, *, chunk: int = 16) -> dict[int, GroupedRidgeCV]:
    """One lagged :class:`~biocl.evaluate.baselines.GroupedRidgeCV` per training recording, on its training windows.

    Every distinct time point the recording's training windows cover enters the fit once
    (:func:`~biocl.evaluate.baselines.distinct_time_points`: overlapping windows repeat
    each point about six times), and the penalty is chosen by cross-validation whose folds
    keep each sentence block whole (``evaluate.ridge_folds`` folds). The design is built
    ``chunk`` windows at a time into per-fold sufficient statistics.
    """
    lags = _lags(bundle, evaluate)
    table = bundle.tables["train"]
    models = {}
    for r, rec in enumerate(bundle.recordings):
        rows = np.flatnonzero(table.recording == r)
        if rec.subject in bundle.heldout or rows.size == 0:
            continue
        keep = distinct_time_points(table.brain_start[rows], bundle.config.n_times)
        blocks = np.array([bundle.blocks.get(s, s) for s in table.sentence[rows]], dtype=object)
        model = GroupedRidgeCV(evaluate.ridge_alphas, evaluate.ridge_folds)
        fold = model.folds(blocks)
        stats = RidgeStatistics(int(fold.max()) + 1, lags.size * rec.n_channels, int(bundle.silence.size))
        for at in range(0, rows.size, chunk):
            part = np.arange(at, min(at + chunk, rows.size))
            batch = batch_arrays(bundle.recordings, table, rows[part], bundle.speech, bundle.silence,
                                 bundle.config, bundle.subject_index)
            x, y, window = lagged_rows(batch["brain"][:, :rec.n_channels], batch["speech"], lags, keep[part])
            stats.add(x, y, fold[part][window])
        models[r] = model.fit_statistics(stats)
    return models


def ridge_predictor(bundle: BrainSpeechData, models: dict[int, GroupedRidgeCV], evaluate: Any, split: str) -> Predictor:
    """Predictions of the per-recording ridge models, less their intercepts (recordings without one: zeros).

    The intercept is one constant speech frame, the same for every window: it says nothing
    about which segment was heard, and under a cosine it ranks the candidates that lie along
    the mean frame first for every window. The scores compare what the brain explains.
    """
    lags = _lags(bundle, evaluate)
    recordings = bundle.tables[split].recording

    def predict(batch: dict[str, torch.Tensor], rows: np.ndarray) -> torch.Tensor:
        which = recordings[rows]
        brain = batch["brain"].cpu().numpy()
        out = np.zeros((rows.size, bundle.silence.size, bundle.config.n_times), np.float32)
        for r in np.unique(which):
            if r not in models:
                continue
            where = np.flatnonzero(which == r)
            out[where] = (predict_lagged_ridge(models[r], brain[where, :bundle.recordings[r].n_channels], lags)
                          - models[r].intercept_[None, :, None])
        return torch.from_numpy(out)

    return predict


def oracle_window_scores(bundle: BrainSpeechData, split: str, rows: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """The simulator's oracle scores (n, m) of windows ``rows`` against candidates ``rows[reps]``.

    The oracle gets the same preprocessed brain windows as the decoders and, for each
    candidate, the stimulus file and onset of its speech window.
    """
    from biocl.data.meg.simulate.dataset import oracle_scores

    table = bundle.tables[split]
    candidates = [(bundle.sounds[table.sound[rows[j]]], table.speech_start[rows[j]] / bundle.config.sfreq_hz)
                  for j in reps]
    out = np.zeros((rows.size, reps.size))
    for r in np.unique(table.recording[rows]):
        rec = bundle.recordings[r]
        where = np.flatnonzero(table.recording[rows] == r)
        brain = extract_brain(rec, table.brain_start[rows[where]], bundle.config)
        out[where] = oracle_scores(bundle.simulation, rec.subject, brain, candidates,
                                   brain_lag_s=bundle.config.brain_shift_s, sfreq_hz=bundle.config.sfreq_hz)
    return out


#: Softmax temperatures tried by :func:`fit_temperature`, relative to the spread of the scores.
TEMPERATURE_GRID = np.logspace(-3.0, 2.0, 51)


def fit_temperature(scores: np.ndarray, true_index: np.ndarray) -> float:
    """The softmax temperature of one decoder, fitted on its validation scores.

    Word-level identification sums softmax probabilities over the segments of a word, so
    it depends on the scale of the scores, which is arbitrary (the deep model's follows
    its training, ridge's its penalty). The temperature minimising the validation
    cross-entropy of the true segment puts every decoder on the same footing. It is
    searched on :data:`TEMPERATURE_GRID` times the standard deviation of the scores, so
    multiplying a decoder's scores by a constant multiplies its temperature by the same
    constant and leaves its word-level metric unchanged.

    Parameters
    ----------
    scores : array (n, m)
        Validation windows against validation candidates.
    true_index : array (n,)
        Each window's true candidate column.

    Returns
    -------
    float
        Divide the decoder's scores by it before the softmax.
    """
    scores = np.asarray(scores, dtype=np.float64)
    spread = float(scores.std())
    if not np.isfinite(spread) or spread <= 0 or scores.size == 0:
        return 1.0
    scaled = scores / spread
    rows = np.arange(scaled.shape[0])
    losses = []
    for tau in TEMPERATURE_GRID:
        logits = scaled / tau
        top = logits.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        losses.append(float(np.mean(log_norm - logits[rows, true_index])))
    return float(TEMPERATURE_GRID[int(np.argmin(losses))] * spread)


def choose_scoring(bundle: BrainSpeechData, normalize: str, rules: list[str], predict: Predictor, *,
                   batch_size: int = 64, device: torch.device | None = None) -> dict[str, Any]:
    """One decoder's scoring rule and word-metric temperature, both chosen on the validation windows.

    Each rule in ``rules`` scores the validation windows against the validation candidates;
    the rule of highest top-10 is kept (the first listed on a tie), and :func:`fit_temperature`
    runs on its scores.

    Returns
    -------
    dict
        ``rule``, ``temperature`` and ``valid_top10`` (rule -> validation top-10).
    """
    rows = bundle.rows("valid")
    candidates, _, true = candidate_matrix(bundle, "valid", rows, normalize)
    scored = {rule: score_windows(predict, bundle, "valid", rows, candidates, normalize=normalize,
                                  batch_size=batch_size, device=device or torch.device("cpu"), rule=rule)
              for rule in rules}
    top10 = {rule: top_k_accuracy(true_ranks(scores, true), 10) for rule, scores in scored.items()}
    best = max(rules, key=lambda rule: (top10[rule], -rules.index(rule)))
    return {"rule": best, "temperature": fit_temperature(scored[best], true), "valid_top10": top10}


def oracle_temperature(bundle: BrainSpeechData) -> float:
    """:func:`fit_temperature` of the simulator's oracle on the validation windows."""
    rows = bundle.rows("valid")
    reps, true = distinct_candidates(bundle.tables["valid"].segment[rows])
    return fit_temperature(oracle_window_scores(bundle, "valid", rows, reps), true)


def identification(scores: np.ndarray, true_index: np.ndarray, words: np.ndarray, ks: list[int],
                   word_k: int, temperature: float = 1.0) -> tuple[dict[str, float], np.ndarray]:
    """Top-k segment accuracies, word-level top-k and the median rank; and the ranks.

    ``temperature`` (:func:`fit_temperature`, fitted on validation) divides the scores
    before the word-level softmax; segment ranks do not depend on it.
    """
    result = segment_identification(scores, true_index, ks)
    metrics = {f"top{k}": result[f"top{k}"] for k in ks}
    metrics[f"word_top{word_k}"] = float(word_top_k(np.asarray(scores) / temperature, true_index, words,
                                                    k=word_k).mean())
    metrics["median_rank"] = result["median_rank"]
    metrics["word_temperature"] = float(temperature)
    return metrics, true_ranks(scores, true_index)


def permutation_test(scores: np.ndarray, true_index: np.ndarray, k: int, n_permutations: int,
                     seed: int) -> dict[str, Any]:
    """Top-k accuracy against its null: windows paired with shuffled candidate labels."""
    n, m = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(m)[None, :]
    observed = float(np.mean(rank[np.arange(n), true_index] < k))

    def null(rng: np.random.Generator) -> float:
        return float(np.mean(rank[np.arange(n), true_index[rng.permutation(n)]] < k))

    p = permutation_pvalue(observed, null, n_permutations=n_permutations, seed=seed) if n_permutations else 1.0
    return {"metric": f"top{k}", "observed": observed, "p_value": p, "n_permutations": n_permutations,
            "null": "test windows paired with shuffled candidate labels"}


def subject_rows(bundle: BrainSpeechData, split: str, rows: np.ndarray) -> np.ndarray:
    """Subject of each window ``rows``."""
    return np.array([bundle.recordings[r].subject for r in bundle.tables[split].recording[rows]], dtype=object)


def subject_table(subjects: np.ndarray, correct: np.ndarray, seed: int, resamples: int) -> list[dict[str, Any]]:
    """Per-subject accuracy with a bootstrap CI over that subject's windows."""
    out = []
    for subject in sorted(set(subjects.tolist())):
        hits = correct[subjects == subject].astype(float)
        low, high = bootstrap_ci(hits, n_resamples=resamples, seed=seed)
        out.append({"group": f"sub-{subject}", "value": float(hits.mean()), "ci95": [low, high], "n": int(hits.size)})
    return out


def subject_interval(subjects: np.ndarray, correct: np.ndarray, acceptance: Any) -> list[float]:
    """A decoder's top-k interval over subjects, made as the primary endpoint's is (for a baseline's row).

    Per-subject accuracies weighted by their windows, resampled by
    :func:`~biocl.evaluate.stats.unit_interval` with the protocol's resamples and seed.
    """
    from biocl.evaluate.stats import unit_interval

    names = sorted(set(subjects.tolist()))
    values = [float(correct[subjects == name].mean()) for name in names]
    weights = [float((subjects == name).sum()) for name in names]
    (low, high), _ = unit_interval(np.asarray(values), weights=np.asarray(weights),
                                   n_resamples=acceptance.ci_resamples, seed=acceptance.ci_seed)
    return [low, high]


#: What a worst case's value measures (the report's column title).
WORST_CASE_METRIC = "top-10 segment accuracy over the sentence's test windows"


def worst_sentences(bundle: BrainSpeechData, rows: np.ndarray, correct: np.ndarray, count: int
                    ) -> list[dict[str, Any]]:
    """The test sentences decoded worst (top-k over all their windows), with what a reader looks up.

    Returns
    -------
    list of dict
        ``id`` (the sentence id), ``value`` (its accuracy), ``metric``, ``higher_is_better``,
        ``sentence`` (its text), ``subject`` (the subject decoded worst on it), ``word`` (the
        word missed most often) and ``detail``.
    """
    table = bundle.tables["test"]
    text = {e.sentence_id: e.sentence for rec in bundle.recordings for e in rec.events}
    sentences = table.sentence[rows]
    subjects = subject_rows(bundle, "test", rows)
    words = table.word[rows]
    rates = []
    for sentence in sorted(set(sentences.tolist())):
        mine = sentences == sentence
        rates.append((float(correct[mine].mean()), sentence, mine))
    rates.sort(key=lambda rate: (rate[0], rate[1]))
    out = []
    for rate, sentence, mine in rates[:count]:
        by_subject = {s: float(correct[mine & (subjects == s)].mean()) for s in sorted(set(subjects[mine].tolist()))}
        worst_subject = min(by_subject, key=lambda s: (by_subject[s], s))
        missed = words[mine & ~correct.astype(bool)].tolist()
        worst_word = max(sorted(set(missed)), key=missed.count) if missed else None
        out.append({"id": sentence, "value": rate, "metric": WORST_CASE_METRIC, "higher_is_better": True,
                    "sentence": f"\"{text.get(sentence, '')[:80]}\"", "subject": f"sub-{worst_subject}",
                    "word": worst_word,
                    "detail": f"{int(mine.sum())} windows of {len(by_subject)} subject(s); sub-{worst_subject} "
                              f"at {by_subject[worst_subject]:.2f}"
                              + (f"; \"{worst_word}\" missed {missed.count(worst_word)} time(s)" if missed else "")})
    return out


def word_probabilities(scores: np.ndarray, words: np.ndarray, temperature: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of the candidate words: the softmax of ``scores / temperature`` summed per word.

    The same probabilities as the word-level metric (:func:`biocl.evaluate.retrieval.word_top_k`
    at the validation-chosen ``temperature``).

    Returns
    -------
    probabilities : array (n, n_words)
        Rows sum to 1.
    column_word : array (m,)
        The word (column of ``probabilities``) of each candidate segment.
    """
    _, column_word = np.unique(np.asarray(words, dtype=object).astype(str), return_inverse=True)
    logits = np.asarray(scores, dtype=np.float64) / temperature
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    word_probs = np.zeros((probs.shape[0], int(column_word.max()) + 1 if column_word.size else 0))
    np.add.at(word_probs.T, column_word, probs.T)
    return word_probs, column_word


def word_calibration(scores: np.ndarray, true_index: np.ndarray, words: np.ndarray, temperature: float,
                     name: str = "word-level identification (deep model)") -> dict[str, Any]:
    """A ``results["calibration"]`` entry: the top word's probability and whether it is the heard word.

    Parameters
    ----------
    scores : array (n, m)
        The test windows' scores against the test candidates (already scored for the metrics).
    true_index : array (n,)
        Each window's true candidate column.
    words : array (m,)
        The word of each candidate.
    temperature : float
        The softmax temperature the word-level metric uses (fitted on validation).
    name : str
        The entry's name in the report.

    Returns
    -------
    dict
        ``name``, ``confidence`` (list of float in [0, 1]), ``correct`` (list of 0/1) and
        ``temperature``.
    """
    word_probs, column_word = word_probabilities(scores, words, temperature)
    top = word_probs.argmax(axis=1)
    confidence = word_probs[np.arange(top.size), top]
    correct = top == column_word[np.asarray(true_index, dtype=np.int64)]
    return {"name": name, "confidence": np.clip(confidence, 0.0, 1.0).round(6).tolist(),
            "correct": correct.astype(int).tolist(), "temperature": float(temperature)}


def top_k_series(ranks: np.ndarray, max_k: int) -> list[float]:
    """Top-k accuracy for k = 1 .. max_k."""
    return top_k_curve(ranks, list(range(1, max_k + 1)))

