"""K-medoid against a plain-loop reference; the kNN-graph binner against the K-medoid."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from biocl.utils.errors import BioclError
from biocl.evaluate.binning import calibrate_threshold, graph_bins, kmedoid_bins, knn_graph


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


def _clustered(n_clusters: int, per_cluster: int, dim: int = 8, spread: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    sizes = rng.integers(per_cluster // 2, per_cluster * 3 // 2 + 1, size=n_clusters)
    labels = np.repeat(np.arange(n_clusters), sizes)
    embeddings = centres[labels] + spread * rng.normal(size=(len(labels), dim))
    order = rng.permutation(len(labels))
    return embeddings[order], labels[order]


def _reference_kmedoid(embeddings: np.ndarray, threshold: float, min_bin_size: int, n_refine: int = 3):
    """The paper's procedure written as the plainest possible loops over a full matrix S."""
    features = (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).astype(np.float32)
    threshold = np.float32(threshold)
    n = len(features)
    similarity = [[float(features[i] @ features[j]) for j in range(n)] for i in range(n)]
    kept = [[s if s >= threshold else 0.0 for s in row] for row in similarity]
    density = [sum(row) for row in kept]
    label = [-1] * n
    seeded = [False] * n
    n_bins = 0
    while True:
        open_seeds = [i for i in range(n) if label[i] == -1 and not seeded[i]]
        if not open_seeds:
            break
        seed = max(open_seeds, key=lambda i: (density[i], -i))
        seeded[seed] = True
        medoid = features[seed]
        members: list[int] = []
        for _ in range(n_refine):
            found = [j for j in range(n) if label[j] == -1 and features[j] @ medoid >= threshold]
            if not found:
                break
            members = found
            medoid = features[members].mean(axis=0)
        if not members:
            continue
        for j in members:
            label[j] = n_bins
            seeded[j] = True
        n_bins += 1
        for i in range(n):
            density[i] -= sum(kept[i][j] for j in members)
    sizes = {b: label.count(b) for b in set(label) if b >= 0}
    renumber = {}
    for b in range(n_bins):
        if sizes.get(b, 0) >= min_bin_size:
            renumber[b] = len(renumber)
    return np.array([renumber.get(b, -1) for b in label])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmedoid_matches_plain_loop_reference(seed):
    embeddings, labels = _clustered(5, 16, seed=seed)
    threshold = calibrate_threshold(embeddings, labels)
    bins = kmedoid_bins(embeddings, threshold, min_bin_size=4, block_size=17)
    np.testing.assert_array_equal(bins, _reference_kmedoid(embeddings, threshold, min_bin_size=4))
    assert bins.max() >= 1 and (bins == -1).any()
    # Singleton bins kept: the same partition. (Isolated sequences all have density ~1, so
    # the order they are numbered in follows rounding noise, which differs between sums.)
    singletons = kmedoid_bins(embeddings, threshold, min_bin_size=1)
    assert adjusted_rand_score(singletons, _reference_kmedoid(embeddings, threshold, min_bin_size=1)) == 1.0
    assert adjusted_rand_score(singletons, graph_bins(embeddings, threshold, k=len(embeddings),
                                                      min_bin_size=1)) == 1.0
    assert (np.bincount(singletons) == 1).sum() > 5


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_graph_bins_equal_kmedoid_when_k_covers_everything(seed):
    embeddings, labels = _clustered(6, 25, dim=12, spread=0.7, seed=seed)
    threshold = calibrate_threshold(embeddings, labels, percentile=50 + 10 * seed)
    dense = kmedoid_bins(embeddings, threshold, min_bin_size=3)
    graph = graph_bins(embeddings, threshold, k=len(embeddings), min_bin_size=3, batch_size=64)
    np.testing.assert_array_equal(graph, dense)


def test_graph_bins_agree_closely_with_small_k():
    embeddings, labels = _clustered(10, 60, dim=16, spread=0.6, seed=5)
    threshold = calibrate_threshold(embeddings, labels)
    dense = kmedoid_bins(embeddings, threshold, min_bin_size=5)
    # k at half the cluster size (about 60 sequences per cluster).
    sparse = graph_bins(embeddings, threshold, k=30, min_bin_size=5)
    assert adjusted_rand_score(dense, sparse) > 0.95
    assert abs(adjusted_rand_score(labels, sparse) - adjusted_rand_score(labels, dense)) < 0.05


@pytest.mark.parametrize("binner", [kmedoid_bins, graph_bins])
def test_every_sequence_is_in_exactly_one_bin_or_unbinned(binner):
    embeddings, labels = _clustered(4, 20, seed=7)
    bins = binner(embeddings, calibrate_threshold(embeddings, labels), min_bin_size=6)
    assert bins.shape == (len(embeddings),) and bins.dtype == np.int64
    present = np.unique(bins[bins >= 0])
    np.testing.assert_array_equal(present, np.arange(len(present)))
    assert (np.bincount(bins[bins >= 0]) >= 6).all()
    assert (bins == -1).sum() + sum((bins == b).sum() for b in present) == len(embeddings)


def test_threshold_extremes():
    embeddings, _ = _clustered(3, 10, seed=8)
    assert (kmedoid_bins(embeddings, 1.5, min_bin_size=1) == -1).all()
    everything = kmedoid_bins(embeddings, -1.0, min_bin_size=1)
    assert (everything == 0).all()
    assert (graph_bins(embeddings, -1.0, k=len(embeddings), min_bin_size=1) == 0).all()


def test_kmedoid_refuses_large_inputs_with_advice():
    with pytest.raises(BioclError, match="graph binner"):
        kmedoid_bins(np.ones((11, 2)), 0.5, max_n=10)


def test_calibrate_threshold_order_statistic():
    # Species a: two identical points (similarity to the mean 1.0); species b: two
    # orthogonal unit vectors, each with similarity 0.5 to their (unnormalised) mean.
    embeddings = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 3, 0]], dtype=float)
    labels = ["a", "a", "b", "b", "c"]
    # Sorted similarities: [0.5, 0.5, 1, 1, 1]; index floor(p/100 * 5).
    assert calibrate_threshold(embeddings, labels, percentile=0) == pytest.approx(0.5)
    assert calibrate_threshold(embeddings, labels, percentile=39) == pytest.approx(0.5)
    assert calibrate_threshold(embeddings, labels, percentile=40) == pytest.approx(1.0)
    assert calibrate_threshold(embeddings, labels, percentile=100) == pytest.approx(1.0)


def test_knn_graph_matches_brute_force():
    rng = np.random.default_rng(9)
    embeddings = rng.normal(size=(50, 6))
    graph = knn_graph(embeddings, 5, batch_size=16)
    features = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    similarity = features @ features.T
    dense = graph.toarray()
    np.testing.assert_allclose(dense, dense.T)
    for i in range(50):
        top = np.argsort(-similarity[i])[:5]
        np.testing.assert_allclose(dense[i, top], similarity[i, top], rtol=1e-5)
    # Symmetrised: at least k neighbours per row, each a top-k pair in one direction.
    assert ((dense != 0).sum(axis=1) >= 5).all()
    thresholded = knn_graph(embeddings, 5, threshold=0.5, batch_size=16)
    assert thresholded.data.min() >= 0.5


def test_graph_bins_reuse_a_precomputed_graph():
    embeddings, labels = _clustered(4, 20, seed=10)
    low = calibrate_threshold(embeddings, labels, percentile=40)
    high = calibrate_threshold(embeddings, labels, percentile=70)
    graph = knn_graph(embeddings, 20, threshold=low)
    np.testing.assert_array_equal(graph_bins(embeddings, high, graph=graph, min_bin_size=3),
                                  graph_bins(embeddings, high, k=20, min_bin_size=3))


def test_faiss_backend_finds_most_neighbours_and_similar_bins():
    pytest.importorskip("faiss")
    embeddings, labels = _clustered(8, 150, dim=32, spread=0.5, seed=11)
    exact = knn_graph(embeddings, 10)
    approximate = knn_graph(embeddings, 10, backend="faiss")
    shared = exact.multiply(approximate > 0).nnz
    assert shared / exact.nnz > 0.9
    threshold = calibrate_threshold(embeddings, labels)
    assert adjusted_rand_score(graph_bins(embeddings, threshold, k=30),
                               graph_bins(embeddings, threshold, k=30, backend="faiss")) > 0.9
    with pytest.raises(BioclError, match="unknown kNN backend"):
        knn_graph(embeddings, 5, backend="annoy")
