"""Species clustering and few-shot classification of sequence embeddings (DNABERT-S §Evaluation).

Both follow the authors' evaluation script, with two flaws fixed and documented:
the few-shot train and test sets never overlap (the script's last-80 test set overlaps
the first-k training set for classes with fewer than k + 80 sequences), and each seed's
shuffle starts from the input order (the script re-shuffled the already shuffled arrays).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

__all__ = ["kmeans_ari", "few_shot_f1", "few_shot_split"]


def _as_matrix(embeddings: np.ndarray, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
    matrix = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    if matrix.ndim != 2 or len(matrix) != len(labels):
        raise ValueError(f"expected embeddings (n, d) and n labels, got {matrix.shape} and {labels.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("embeddings contain NaN or infinite values")
    return matrix, labels


def kmeans_ari(embeddings: np.ndarray, labels: Sequence, *, n_seeds: int = 5,
               l2_normalise: bool = True) -> tuple[float, list[float]]:
    """Adjusted Rand index of K-means with the true number of species, averaged over seeds.

    The paper's protocol: ``KMeans(n_clusters=<number of species>, init="random", n_init=3,
    max_iter=1000, random_state=seed)`` for seeds ``0 .. n_seeds - 1`` on the L2-normalised
    embeddings.

    Parameters
    ----------
    embeddings : array of shape (n_sequences, n_features)
        One embedding per sequence.
    labels : sequence of length n_sequences
        True species (any hashable values).
    n_seeds : int
        K-means runs (seeds 0, 1, ...).
    l2_normalise : bool
        Scale each embedding to unit norm first (the paper does).

    Returns
    -------
    mean_ari : float
        Mean ARI over seeds (1 = perfect, about 0 = chance).
    per_seed : list of float
        The ARI of each seed.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import normalize

    matrix, labels = _as_matrix(embeddings, labels)
    if l2_normalise:
        matrix = normalize(matrix)
    n_clusters = len(np.unique(labels))
    scores = []
    for seed in range(n_seeds):
        model = KMeans(n_clusters=n_clusters, init="random", n_init=3, max_iter=1000, random_state=seed)
        scores.append(float(adjusted_rand_score(labels, model.fit_predict(matrix))))
    return float(np.mean(scores)), scores


def few_shot_split(labels: Sequence, seed: int, *, shots: Sequence[int] = (1, 2, 5, 10, 20),
                   n_test: int = 80) -> tuple[dict[int, np.ndarray], np.ndarray, list]:
    """The train and test indices of one few-shot seed.

    Each class is shuffled with ``numpy.random.default_rng(seed)``; its first ``k`` sequences
    train the ``k``-shot classifier and its last ``min(n_test, n_class - max(shots))`` are the
    test set, the same for every ``k`` and never overlapping any training set. Classes with
    no more than ``max(shots)`` sequences cannot give both and are left out.

    Parameters
    ----------
    labels : sequence
        Class of each sequence.
    seed : int
        Seed of the shuffle.
    shots : sequence of int
        Training sequences per class.
    n_test : int
        Test sequences per class, at most.

    Returns
    -------
    train : dict of int to ndarray
        ``k`` -> indices of the training sequences.
    test : ndarray
        Indices of the test sequences.
    excluded : list
        The classes left out.
    """
    labels = np.asarray(labels)
    max_shot = max(shots)
    rng = np.random.default_rng(seed)
    train: dict[int, list[np.ndarray]] = {k: [] for k in shots}
    test: list[np.ndarray] = []
    excluded = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) <= max_shot:
            excluded.append(cls.item() if hasattr(cls, "item") else cls)
            continue
        members = rng.permutation(members)
        for k in shots:
            train[k].append(members[:k])
        test.append(members[len(members) - min(n_test, len(members) - max_shot):])
    empty = np.zeros(0, dtype=np.int64)
    return ({k: np.concatenate(v) if v else empty for k, v in train.items()},
            np.concatenate(test) if test else empty, excluded)


def few_shot_f1(embeddings: np.ndarray, labels: Sequence, *, shots: Sequence[int] = (1, 2, 5, 10, 20),
                n_test: int = 80, n_seeds: int = 5, C: float = 0.5) -> dict[int, float]:
    """Macro-F1 of a logistic regression trained on ``k`` sequences per class, averaged over seeds.

    The paper's protocol: the embeddings are standardised (``StandardScaler`` fitted on all
    sequences, no labels used), then for each seed and each ``k`` a
    ``LogisticRegression(C=0.5, penalty="l2", solver="lbfgs", max_iter=3000,
    random_state=seed)`` is trained on the first ``k`` sequences of each class and scored
    by macro-F1 on the test set (see :func:`few_shot_split` for the split and for classes
    too small to use, which are left out with a warning).

    Parameters
    ----------
    embeddings : array of shape (n_sequences, n_features)
        One embedding per sequence.
    labels : sequence of length n_sequences
        True species.
    shots : sequence of int
        Training sequences per class.
    n_test : int
        Test sequences per class, at most.
    n_seeds : int
        Seeds 0 .. n_seeds - 1.
    C : float
        Inverse L2 regularisation strength.

    Returns
    -------
    f1 : dict of int to float
        ``k`` -> mean macro-F1 over seeds (0..1).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler

    matrix, labels = _as_matrix(embeddings, labels)
    standardised = StandardScaler().fit_transform(matrix)
    scores: dict[int, list[float]] = {k: [] for k in shots}
    for seed in range(n_seeds):
        train, test, excluded = few_shot_split(labels, seed, shots=shots, n_test=n_test)
        if seed == 0 and excluded:
            warnings.warn(f"few-shot: {len(excluded)} classes have at most {max(shots)} sequences "
                          f"and are left out: {excluded[:10]}", stacklevel=2)
        if len(np.unique(labels[test])) < 2:
            raise ValueError(f"few-shot needs at least two classes with more than {max(shots)} sequences")
        for k in shots:
            model = LogisticRegression(C=C, solver="lbfgs", max_iter=3000, random_state=seed)
            model.fit(standardised[train[k]], labels[train[k]])
            predicted = model.predict(standardised[test])
            scores[k].append(float(f1_score(labels[test], predicted, average="macro", zero_division=0)))
    return {k: float(np.mean(v)) for k, v in scores.items()}
