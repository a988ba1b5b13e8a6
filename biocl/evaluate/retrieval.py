"""Segment identification: which of the candidate speech segments did this brain window hear?

The metric of Défossez et al. 2023. Every test window is scored against every distinct
test segment (a segment is a sentence id and a word index, so the same words heard by two
subjects are one candidate); the window is correct at k when its own segment is among the
k best-scored. Chance is k / number of candidates.

Ranks follow the project's one tie rule (:mod:`biocl.evaluate.ranking`): a candidate scored
*equal* to the true one counts as ahead of it, so a model that scores everything the same is
at or below chance, never at 100 %.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from biocl.evaluate.ranking import true_ranks

__all__ = [
    "segment_scores",
    "true_ranks",
    "top_k_accuracy",
    "segment_identification",
    "word_top_k",
    "word_top_k_chance",
    "top_k_curve",
    "distinct_candidates",
]


def segment_scores(queries: np.ndarray | torch.Tensor, candidates: np.ndarray | torch.Tensor, *,
                   normalize: str = "candidates", chunk_size: int = 512) -> np.ndarray:
    """Scores of each query against each candidate, as the CLIP loss computes them.

    Parameters
    ----------
    queries : array (n, ...)
        Predicted speech windows (brain encoder outputs), flattened over features x time.
    candidates : array (m, ...)
        The candidate speech windows, same trailing shape.
    normalize : {"candidates", "both", "none"}
        ``candidates``: ``<q, c> / ||c||`` (the paper's score; the query norm does not
        change a row's ranking); ``both``: cosine; ``none``: dot product.
    chunk_size : int
        Queries scored at once (bounds memory for large windows).

    Returns
    -------
    array (n, m), float64
    """
    q = torch.as_tensor(queries).flatten(1).to(torch.float64)
    c = torch.as_tensor(candidates).flatten(1).to(torch.float64)
    if q.shape[1] != c.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} values per item, candidates {c.shape[1]}")
    if normalize in ("candidates", "both"):
        c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
    elif normalize != "none":
        raise ValueError(f"unknown normalize {normalize!r}")
    out = []
    for start in range(0, q.shape[0], chunk_size):
        block = q[start:start + chunk_size]
        if normalize == "both":
            block = block / block.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append(block @ c.T)
    if not out:
        return np.zeros((0, c.shape[0]))
    return torch.cat(out).numpy()


def top_k_accuracy(ranks: np.ndarray, k: int) -> float:
    """Share of rows whose true candidate is among the k best."""
    ranks = np.asarray(ranks)
    return float((ranks < k).mean()) if ranks.size else float("nan")


def segment_identification(scores: np.ndarray, true_index: np.ndarray,
                           ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Top-k segment accuracies and their chance levels.

    Returns
    -------
    dict
        ``top{k}`` (share in [0, 1]), ``chance_top{k}`` (= min(k, m) / m), ``n_candidates``,
        ``n_windows`` and ``median_rank`` (0-based).
    """
    ranks = true_ranks(scores, true_index)
    m = scores.shape[1]
    result: dict[str, float] = {"n_candidates": float(m), "n_windows": float(len(ranks)),
                                "median_rank": float(np.median(ranks)) if len(ranks) else float("nan")}
    for k in ks:
        result[f"top{k}"] = top_k_accuracy(ranks, k)
        result[f"chance_top{k}"] = min(k, m) / m
    return result


def word_top_k(scores: np.ndarray, true_index: np.ndarray, candidate_words: Sequence[str], k: int = 10
               ) -> np.ndarray:
    """Word-level identification: is the heard word among the k most probable words?

    Each row's scores become probabilities over candidate segments (softmax); a word's
    probability is the sum over the segments of that word; the row is correct when its
    true segment's word is among the k words of highest probability (ties against it).

    Returns
    -------
    array (n,) of bool
    """
    words, column_word = np.unique(np.asarray(candidate_words, dtype=object).astype(str), return_inverse=True)
    scores = np.asarray(scores, dtype=np.float64)
    logp = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(logp)
    probs /= probs.sum(axis=1, keepdims=True)
    word_probs = np.zeros((scores.shape[0], words.size))
    np.add.at(word_probs.T, column_word, probs.T)
    true_word = column_word[np.asarray(true_index, dtype=np.int64)]
    true_prob = word_probs[np.arange(scores.shape[0]), true_word]
    ranks = (word_probs >= true_prob[:, None]).sum(axis=1) - 1
    return ranks < k


def word_top_k_chance(true_index: np.ndarray, candidate_words: Sequence[str], k: int = 10) -> float:
    """Word-level top-k of uninformative (equal) scores, ties broken at random in expectation.

    With equal segment scores a word's probability is its share of the candidates, so the
    frequent words win; this is the chance level that word-level top-k is read against.
    """
    words, column_word = np.unique(np.asarray(candidate_words, dtype=object).astype(str), return_inverse=True)
    counts = np.bincount(column_word, minlength=words.size).astype(float)
    true_word = column_word[np.asarray(true_index, dtype=np.int64)]
    hits = []
    for w in true_word:
        above = int((counts > counts[w]).sum())
        tied = int((counts == counts[w]).sum())
        # Among the tied words, the true one lands in any of the tied places with equal probability.
        slots = min(max(k - above, 0), tied)
        hits.append(slots / tied)
    return float(np.mean(hits)) if hits else float("nan")


def top_k_curve(ranks: np.ndarray, ks: Sequence[int]) -> list[float]:
    """Top-k accuracy for each k in ``ks`` (for the report's curve)."""
    return [top_k_accuracy(ranks, k) for k in ks]


def distinct_candidates(segment_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The first window of each distinct segment and each window's candidate column.

    Parameters
    ----------
    segment_ids : sequence of str
        Segment id of every test window (``"<sentence id>:<word index>"``).

    Returns
    -------
    representatives : array (m,) of int
        Index of the window whose speech stands for each candidate (its first occurrence).
    true_index : array (n,) of int
        Column of each window's own segment.
    """
    ids = np.asarray(segment_ids, dtype=object).astype(str)
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    remap = np.empty_like(order)
    remap[order] = np.arange(order.size)
    return first[order], remap[inverse]
