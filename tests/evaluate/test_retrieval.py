"""Segment identification against brute force loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biocl.evaluate.retrieval import (
    distinct_candidates,
    segment_identification,
    segment_scores,
    top_k_curve,
    true_ranks,
    word_top_k,
    word_top_k_chance,
)


def _brute_scores(queries, candidates, normalize):
    n, m = len(queries), len(candidates)
    out = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            q = queries[i].ravel().astype(float)
            c = candidates[j].ravel().astype(float)
            dot = sum(a * b for a, b in zip(q, c, strict=True))
            if normalize in ("candidates", "both"):
                dot /= math.sqrt(sum(b * b for b in c))
            if normalize == "both":
                dot /= math.sqrt(sum(a * a for a in q))
            out[i, j] = dot
    return out


@pytest.mark.parametrize("normalize", ["candidates", "both", "none"])
def test_scores_match_brute_force(normalize):
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(7, 3, 4))
    candidates = rng.normal(size=(5, 3, 4))
    got = segment_scores(queries, candidates, normalize=normalize, chunk_size=3)
    np.testing.assert_allclose(got, _brute_scores(queries, candidates, normalize), atol=1e-12)


def test_top_k_matches_brute_force():
    rng = np.random.default_rng(1)
    n, m = 40, 25
    scores = rng.normal(size=(n, m))
    scores[3, :] = 0.5  # all tied: the true candidate must not win a tie
    true = rng.integers(0, m, size=n)
    result = segment_identification(scores, true, ks=(1, 5, 10))
    for k in (1, 5, 10):
        hits = 0
        for i in range(n):
            ahead = sum(1 for j in range(m) if j != true[i] and scores[i, j] >= scores[i, true[i]])
            hits += ahead < k
        assert result[f"top{k}"] == pytest.approx(hits / n)
        assert result[f"chance_top{k}"] == pytest.approx(k / m)
    assert true_ranks(scores, true)[3] == m - 1
    assert result["n_candidates"] == m


def test_perfect_and_curve():
    scores = np.eye(6) + 0.01
    ranks = true_ranks(scores, np.arange(6))
    assert ranks.tolist() == [0] * 6
    assert top_k_curve(ranks, [1, 2]) == [1.0, 1.0]


def test_word_top_k_matches_brute_force():
    rng = np.random.default_rng(2)
    words = ["a", "b", "a", "c", "d", "b", "e", "a"]
    n, m, k = 30, len(words), 2
    scores = rng.normal(size=(n, m))
    true = rng.integers(0, m, size=n)
    got = word_top_k(scores, true, words, k=k)
    for i in range(n):
        probs = [math.exp(s) for s in scores[i]]
        total = sum(probs)
        per_word = {}
        for w, p in zip(words, probs, strict=True):
            per_word[w] = per_word.get(w, 0.0) + p / total
        own = per_word[words[true[i]]]
        ahead = sum(1 for w, p in per_word.items() if w != words[true[i]] and p >= own)
        assert got[i] == (ahead < k)


def test_word_chance_with_equal_scores():
    words = ["a", "a", "a", "b", "b", "c"]
    true = np.array([0, 3, 5])
    # Equal scores: "a" first, "b" second, "c" third; top-2 holds a and b.
    assert word_top_k_chance(true, words, k=2) == pytest.approx(2 / 3)
    assert word_top_k(np.zeros((3, 6)), true, words, k=2).tolist() == [True, True, False]


def test_distinct_candidates_keep_first_occurrence_order():
    ids = ["s2:0", "s1:3", "s2:0", "s1:3", "s1:4"]
    reps, true = distinct_candidates(ids)
    assert reps.tolist() == [0, 1, 4]
    assert true.tolist() == [0, 1, 0, 1, 2]


def test_retrieval_ties_place_the_relevant_item_last() -> None:
    from biocl.evaluate.zste import retrieval_metrics

    scores = np.zeros((3, 5))
    relevant = np.eye(3, 5, dtype=bool)
    out = retrieval_metrics(scores, relevant, ks=(1, 5))
    assert out["r1"] == 0.0 and out["r5"] == 1.0 and out["map10"] == pytest.approx(1 / 5)
