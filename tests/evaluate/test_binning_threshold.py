"""Label-free binning thresholds (what `biocl dna bin` uses without labels)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from biocl.evaluate.binning import bin_embeddings
from biocl.evaluate.binning_threshold import halves_threshold, silhouette_threshold


def _clusters(rng: np.random.Generator, n_clusters: int, per_cluster: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(n_clusters, 16))
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    return centres[labels] + spread * rng.normal(size=(len(labels), 16)), labels


def test_silhouette_threshold_recovers_well_separated_bins() -> None:
    rng = np.random.default_rng(0)
    points, labels = _clusters(rng, n_clusters=6, per_cluster=30, spread=0.15)
    threshold, candidates = silhouette_threshold(points, k=20, min_bin_size=5)
    bins = bin_embeddings(points, threshold, k=20, min_bin_size=5)
    assert adjusted_rand_score(labels, bins) == 1.0
    assert len(candidates) > 10
    assert max(candidates, key=lambda c: c["score"])["threshold"] == threshold
    for c in candidates:
        assert np.isclose(c["score"], c["silhouette"] * c["binned_fraction"])
    assert silhouette_threshold(points, k=20, min_bin_size=5)[0] == threshold


def test_silhouette_threshold_on_a_subsample_of_a_large_input() -> None:
    rng = np.random.default_rng(1)
    points, labels = _clusters(rng, n_clusters=4, per_cluster=100, spread=0.15)
    threshold, _ = silhouette_threshold(points, k=20, min_bin_size=10, max_sequences=120)
    assert adjusted_rand_score(labels, bin_embeddings(points, threshold, k=20, min_bin_size=10)) == 1.0


def test_silhouette_threshold_with_too_few_sequences_to_choose() -> None:
    assert silhouette_threshold(np.ones((2, 4))) == (1.0, [])


def test_halves_threshold_is_a_percentile_of_half_to_half_similarities() -> None:
    def featurize(sequences: list[str]) -> np.ndarray:
        return np.array([[s.count("A"), s.count("C") + 1.0] for s in sequences])

    sequences = ["AAAACCCC", "AAAAAAAA", "ACACACAC", "CCCCAAAA"]
    halves = featurize([s[:4] for s in sequences]), featurize([s[4:] for s in sequences])
    unit = [h / np.linalg.norm(h, axis=1, keepdims=True) for h in halves]
    expected = np.percentile((unit[0] * unit[1]).sum(1), 50)
    assert np.isclose(halves_threshold(featurize, sequences, percentile=50), expected)
