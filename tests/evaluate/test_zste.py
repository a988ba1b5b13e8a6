"""ZSTE tasks, CompA-order and retrieval: against brute force, an oracle model, and for determinism."""

from __future__ import annotations

import re

import numpy as np
import pytest

from biocl.evaluate.zste import (ZsteSet, ZsteTemplates, compa_order_scores, evaluate_zste,
                                 retrieval_metrics, scaled_cosine, task4_candidates, top1_correct, top2_exact)

NAMES = ["dog", "rain", "siren", "bell", "train", "wind"]
C = len(NAMES)


def _items(pairs: list[tuple[int, int]]) -> ZsteSet:
    """Clips that spell out their content: singles (k,k,k,k), joins (a,a,a,a,b,b,b,b), overlays (a,b,-1,-1)."""
    singles = np.array([[k] * 4 for k in range(C) for _ in range(2)], dtype=np.float32)
    forward = np.array([[a] * 4 + [b] * 4 for a, b in pairs], dtype=np.float32)
    reverse = np.array([[b] * 4 + [a] * 4 for a, b in pairs], dtype=np.float32)
    overlay = np.array([[a, b, -1, -1] for a, b in pairs], dtype=np.float32)
    return ZsteSet(class_names=NAMES, singles=singles, single_labels=np.repeat(np.arange(C), 2),
                   pair_classes=np.array(pairs), forward=forward, reversed=reverse, overlay=overlay,
                   pair_ids=[f"{NAMES[a]}|{NAMES[b]}#0" for a, b in pairs])


def _vector(presence=(), first=None, second=None, overlap=False) -> np.ndarray:
    v = np.zeros(3 * C + 1)
    for k in presence:
        v[k] += 1
    if first is not None:
        v[C + first] = 1
    if second is not None:
        v[2 * C + second] = 1
    v[-1] = float(overlap)
    return v


def _oracle_audio(swap_order: bool = False):
    def embed(clips: np.ndarray) -> np.ndarray:
        rows = []
        for clip in clips.astype(int):
            if clip.size == 8:
                a, b = (clip[4], clip[0]) if swap_order else (clip[0], clip[4])
                rows.append(_vector((a, b), a, b))
            elif clip[-1] == -1:
                rows.append(_vector((clip[0], clip[1]), overlap=True))
            else:
                rows.append(_vector((clip[0],)))
        return np.array(rows)
    return embed


def _oracle_text(captions: list[str]) -> np.ndarray:
    index = {name: k for k, name in enumerate(NAMES)}
    rows = []
    for caption in captions:
        if m := re.fullmatch(r"this is a sound of (\w+)", caption):
            rows.append(_vector((index[m[1]],)))
        elif m := re.fullmatch(r"(\w+) before (\w+)", caption):
            a, b = index[m[1]], index[m[2]]
            rows.append(_vector((a, b), a, b))
        elif m := re.fullmatch(r"(\w+) while (\w+)", caption):
            rows.append(_vector((index[m[1]], index[m[2]]), overlap=True))
        elif m := re.fullmatch(r"the (first|second) sound is (\w+)", caption):
            k = index[m[2]]
            rows.append(_vector(first=k) if m[1] == "first" else _vector(second=k))
        else:
            raise AssertionError(caption)
    return np.array(rows)


PAIRS = [(0, 1), (2, 3), (4, 5), (1, 3), (5, 0)]


def test_oracle_scores_one_on_every_task() -> None:
    result = evaluate_zste(_oracle_audio(), _oracle_text, np.log(1 / 0.07), _items(PAIRS), n_task4_candidates=20)
    for name, value in result.metrics.items():
        assert value == pytest.approx(1.0), name
    assert result.example_captions == ["dog before rain", "rain before dog", "dog while rain"]
    assert np.argmax(result.example_similarity, axis=1).tolist() == [0, 1, 2]


def test_order_blind_audio_fails_order_but_not_classification() -> None:
    result = evaluate_zste(_oracle_audio(swap_order=True), _oracle_text, 2.0, _items(PAIRS), n_task4_candidates=20)
    m = result.metrics
    assert m["zste_task1"] == 1.0 and m["zste_task2"] == 1.0
    assert m["zste_task3"] == 0.0 and m["compa_text"] == 0.0 and m["compa_group"] == 0.0
    assert result.task3_predictions.tolist() == [1] * len(PAIRS) + [0] * len(PAIRS)


def test_random_model_is_deterministic_and_near_chance() -> None:
    rng = np.random.default_rng(0)
    table: dict[tuple, np.ndarray] = {}

    def embed_audio(clips: np.ndarray) -> np.ndarray:
        return np.array([table.setdefault(tuple(c), rng.standard_normal(8)) for c in clips])

    def embed_text(captions: list[str]) -> np.ndarray:
        return np.array([table.setdefault((t,), rng.standard_normal(8)) for t in captions])

    pairs = [(a, b) for a in range(C) for b in range(C) if a != b]
    first = evaluate_zste(embed_audio, embed_text, 1.0, _items(pairs), seed=3)
    second = evaluate_zste(embed_audio, embed_text, 1.0, _items(pairs), seed=3)
    assert first.metrics == second.metrics
    assert 0.15 < first.metrics["zste_task3"] < 0.55


def test_task4_candidates_hold_the_truth_once_and_are_seeded() -> None:
    pool, candidates, truth = task4_candidates(NAMES, np.array(PAIRS), ZsteTemplates(), 12, np.random.default_rng(0))
    assert len(pool) == C * (C - 1) + C * (C - 1) // 2 and candidates.shape == (len(PAIRS), 12)
    for (a, b), row in zip(PAIRS, candidates):
        assert pool[row[0]] == f"{NAMES[a]} before {NAMES[b]}" and len(set(row)) == 12
    again = task4_candidates(NAMES, np.array(PAIRS), ZsteTemplates(), 12, np.random.default_rng(0))[1]
    assert np.array_equal(candidates, again) and not truth.any()


def test_top_k_helpers_count_ties_against_the_truth() -> None:
    scores = np.array([[0.5, 0.5, 0.1], [0.1, 0.2, 0.9]])
    # Row 0: columns 0 and 1 tie for best; neither is a top-1 hit, whichever is the truth.
    assert top1_correct(scores, np.array([0, 2])).tolist() == [0.0, 1.0]
    assert top1_correct(scores, np.array([1, 2])).tolist() == [0.0, 1.0]
    assert top2_exact(scores, np.array([[1, 0], [0, 2]])).tolist() == [1.0, 0.0]
    # A tie at the border of the top-2 set counts against it.
    assert top2_exact(np.array([[0.9, 0.5, 0.5]]), np.array([[0, 1]])).tolist() == [0.0]


@pytest.mark.parametrize("constant", [True, False])
def test_an_order_blind_model_is_at_or_below_chance_on_every_task(constant: bool) -> None:
    # Audio embeddings that are all equal (constant) or blind to order (a join and its
    # reversal embed alike): the true caption is column 0 of task 4 and index 0 of task 3,
    # where a stable sort would hand every tie to the truth (task 3 = 0.50, task 4 = 1.00).
    pairs = [(a, b) for a in range(C) for b in range(C) if a != b]

    def blind_audio(clips: np.ndarray) -> np.ndarray:
        if constant:
            return np.ones((len(clips), 3 * C + 1))
        return np.array([_vector(tuple(np.unique(clip[clip >= 0].astype(int)))) for clip in clips])

    n4 = 12
    result = evaluate_zste(blind_audio, _oracle_text, 0.0, _items(pairs), n_task4_candidates=n4)
    chance = {"zste_task1": 1 / C, "zste_task2": 1 / (C * (C - 1) / 2), "zste_task3": 1 / 3,
              "zste_task4": 1 / n4, "zste_task5": 1 / (2 * C * (2 * C - 1) / 2),
              "compa_text": 0.25, "compa_audio": 0.25, "compa_group": 1 / 6}
    # An order-blind model still tells classes apart, so only the order tasks are at chance.
    tasks = chance if constant else ("zste_task3", "compa_text", "compa_audio", "compa_group")
    for task in tasks:
        assert result.metrics[task] <= chance[task] + 1e-9, task
    if constant:
        assert result.metrics["retrieval_a2t_r1"] <= 1 / 3 + 1e-9
    # The confusion matrix never shows a tie as a correct pick.
    assert not np.any((result.task3_predictions == result.task3_truth) & (result.per_item["task3"] == 0))


def test_compa_truth_table() -> None:
    # Pair 1 right both ways; pair 2: each clip prefers its caption (text) but the reversed
    # caption prefers the forward clip (audio fails); pair 3: wrong.
    out = compa_order_scores(s_ff=np.array([2, 2, 0.0]), s_fr=np.array([1, 1.9, 1.0]), s_rf=np.array([1, 1, 0.0]),
                             s_rr=np.array([2, 1.5, 0.5]))
    assert out["text"].tolist() == [1, 1, 0] and out["audio"].tolist() == [1, 0, 0]
    assert out["group"].tolist() == [1, 0, 0]


def _brute_retrieval(scores: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    recalls = {1: [], 5: [], 10: []}
    aps = []
    for row, rel in zip(scores, relevant):
        ranked = sorted(range(len(row)), key=lambda j: (-row[j], j))
        for k in recalls:
            recalls[k].append(float(any(rel[j] for j in ranked[:k])))
        hits, precision_sum = 0, 0.0
        for position, j in enumerate(ranked[:10], start=1):
            if rel[j]:
                hits += 1
                precision_sum += hits / position
        aps.append(precision_sum / min(rel.sum(), 10))
    return {"r1": np.mean(recalls[1]), "r5": np.mean(recalls[5]), "r10": np.mean(recalls[10]), "map10": np.mean(aps)}


def test_retrieval_matches_brute_force() -> None:
    rng = np.random.default_rng(4)
    scores = rng.standard_normal((9, 25))
    relevant = rng.random((9, 25)) < 0.15
    relevant[np.arange(9), rng.integers(0, 25, 9)] = True
    got = retrieval_metrics(scores, relevant)
    for key, value in _brute_retrieval(scores, relevant).items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


def test_scaled_cosine_uses_the_logit_scale() -> None:
    a = np.array([[3.0, 4.0]])
    t = np.array([[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(scaled_cosine(a, t, np.log(10.0)), [[6.0, 8.0]])
