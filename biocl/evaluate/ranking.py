"""The one tie rule of every ranking metric: ties count against the truth.

A candidate scored exactly as high as the true one is ranked above it. A model that cannot
tell items apart (all scores equal) therefore never scores above chance, whatever column
the truth happens to sit in; with a stable sort it would score 100 % whenever the truth is
column 0. Segment identification, word identification, ZSTE 1-5, CompA-order, retrieval
and the permutation tests (:func:`biocl.evaluate.stats.permutation_pvalue` counts null
statistics equal to the observed one as exceeding it) all follow this rule.
"""

from __future__ import annotations

import numpy as np

__all__ = ["true_ranks", "top_k_hits", "top_set_exact", "ranked_relevance", "predicted_column"]


def true_ranks(scores: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """0-based rank of each row's true candidate, ties counted against it.

    Parameters
    ----------
    scores : array (n, m)
    true_index : array (n,) of int
        Column of each row's true candidate.

    Returns
    -------
    array (n,) of int
        Number of other candidates scored at least as high as the true one.
    """
    scores = np.asarray(scores)
    true_index = np.asarray(true_index, dtype=np.int64)
    true = scores[np.arange(scores.shape[0]), true_index]
    return (scores >= true[:, None]).sum(axis=1) - 1


def top_k_hits(scores: np.ndarray, true_index: np.ndarray, k: int = 1) -> np.ndarray:
    """1.0 where a row's true candidate is among its k best, ties against it; else 0.0."""
    return (true_ranks(scores, true_index) < k).astype(float)


def top_set_exact(scores: np.ndarray, true_columns: np.ndarray) -> np.ndarray:
    """1.0 where a row's ``j`` best candidates are exactly its ``j`` true columns, else 0.0.

    Every true column must score strictly above every other column: a tie at the border
    of the set counts against the truth.
    """
    scores = np.asarray(scores, dtype=np.float64)
    true_columns = np.asarray(true_columns, dtype=np.int64)
    is_true = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(is_true, true_columns, True, axis=1)
    weakest_true = np.where(is_true, scores, np.inf).min(axis=1)
    strongest_other = np.where(is_true, -np.inf, scores).max(axis=1)
    return (weakest_true > strongest_other).astype(float)


def ranked_relevance(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Each row's relevance flags in rank order, best first; tied items place the relevant last."""
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    # lexsort sorts by the last key first: score descending, then irrelevant before relevant.
    order = np.lexsort((relevant, -scores), axis=1)
    return np.take_along_axis(relevant, order, axis=1)


def predicted_column(scores: np.ndarray, true_index: np.ndarray) -> np.ndarray:
    """The column each row picks; among tied best columns, a wrong one is picked when there is one."""
    scores = np.asarray(scores, dtype=np.float64)
    true_index = np.asarray(true_index, dtype=np.int64)
    best = scores >= scores.max(axis=1, keepdims=True)
    wrong_best = best.copy()
    wrong_best[np.arange(scores.shape[0]), true_index] = False
    return np.where(wrong_best.any(axis=1), wrong_best.argmax(axis=1), true_index)
