"""Label-free binning thresholds: how `biocl dna bin` picks its cosine threshold without labels.

By default (:func:`silhouette_threshold`) candidate thresholds are tried and the one whose
bins have the highest mean silhouette wins, an unbinned sequence counting as a singleton
(silhouette 0). The older rule (:func:`halves_threshold`) takes a percentile of the
similarity between each sequence's two halves; it suits fixed features such as TNF but not
an encoder trained on the sample itself, which was trained to make two pieces of one
sequence alike, so the halves look more alike than two contigs of one genome do and the
threshold comes out too strict. With labels, the paper's calibration is
:func:`biocl.evaluate.binning.calibrate_threshold`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from biocl.evaluate.binning import bin_embeddings, graph_bins, knn_graph

__all__ = ["halves_threshold", "silhouette_threshold"]


def halves_threshold(featurize: Callable[[list[str]], np.ndarray], sequences: Sequence[str], *,
                     percentile: float = 70.0) -> float:
    """Label-free binning threshold: a percentile of the similarity between each sequence's two halves.

    Parameters
    ----------
    featurize : callable
        ``featurize(sequences) -> (n, d)`` embeddings.
    sequences : sequence of str
        The sequences to bin (bases).
    percentile : float
        Percentile of the half-to-half cosine similarities (lower: looser bins).

    Returns
    -------
    float
        Cosine-similarity threshold for :func:`bin_embeddings`.
    """
    firsts = [s[: len(s) // 2] for s in sequences]
    seconds = [s[len(s) // 2:] for s in sequences]
    features = featurize(firsts + seconds)
    features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    n = len(sequences)
    similarities = (features[:n] * features[n:]).sum(axis=1)
    return float(np.percentile(similarities, percentile))


def silhouette_threshold(embeddings: np.ndarray, *, binner: str = "graph", k: int = 50, min_bin_size: int = 10,
                         n_candidates: int = 40, max_sequences: int = 5_000, seed: int = 0) -> tuple[float, list[dict]]:
    """Label-free binning threshold: the candidate whose bins have the highest mean silhouette.

    Candidates are quantiles ``1 - q`` of the cosine similarities between all pairs of
    sequences, ``q`` log-spaced from 0.5 to 0.001 (the share of pairs in one bin is about
    1 / number of genomes, so this covers 2 to about 1,000 genomes). Each candidate is scored
    by the mean silhouette (cosine) over all sequences, unbinned ones counting 0 as
    singletons do in :func:`sklearn.metrics.silhouette_score`: tight, well separated bins
    that leave few sequences out score high.

    Parameters
    ----------
    embeddings : array of shape (n, d)
        The sequences to bin.
    binner, k, min_bin_size
        As :func:`bin_embeddings`.
    n_candidates : int
        Thresholds tried.
    max_sequences : int
        Above this, the search runs on a random subsample of this size (``min_bin_size``
        scaled down in proportion, at least 2), since each candidate costs a binning and an
        O(m^2) silhouette.
    seed : int
        Seed of the subsample.

    Returns
    -------
    threshold : float
        The chosen cosine threshold.
    candidates : list of dict
        ``{"threshold", "silhouette", "binned_fraction", "score"}`` for every candidate tried.
    """
    from sklearn.metrics import silhouette_score

    features = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    features = features.astype(np.float32)
    n = len(features)
    if n > max_sequences:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=max_sequences, replace=False))
        features, min_bin_size = features[keep], max(2, round(min_bin_size * max_sequences / n))
    if len(features) < 3:  # nothing to choose between: only identical sequences share a bin
        return 1.0, []
    pairs = (features @ features.T)[np.triu_indices(len(features), 1)]
    thresholds = np.unique(np.quantile(pairs, 1.0 - np.geomspace(0.5, 1e-3, n_candidates)))
    if binner == "graph":
        # One kNN graph at the loosest candidate serves every candidate (graph_bins drops the weaker edges).
        k = min(k, len(features) - 1)
        graph = knn_graph(features, k, threshold=float(thresholds[0]))

        def binning(threshold: float) -> np.ndarray:
            return graph_bins(features, threshold, k=k, min_bin_size=min_bin_size, graph=graph)
    else:
        def binning(threshold: float) -> np.ndarray:
            return bin_embeddings(features, threshold, binner=binner, k=k, min_bin_size=min_bin_size)
    candidates = []
    for threshold in thresholds:
        bins = binning(float(threshold))
        binned = bins >= 0
        if len(np.unique(bins[binned])) < 2:
            silhouette = 0.0
        else:
            silhouette = float(silhouette_score(features[binned], bins[binned], metric="cosine"))
        candidates.append({"threshold": float(threshold), "silhouette": silhouette,
                           "binned_fraction": float(binned.mean()), "score": silhouette * float(binned.mean())})
    best = max(candidates, key=lambda c: c["score"])
    return best["threshold"], candidates
