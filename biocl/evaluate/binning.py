"""Metagenomic binning of sequence embeddings: the paper's K-medoid and a kNN-graph binner.

Both binners share one procedure (DNABERT-S, Zhou et al. 2024) on L2-normalised embeddings
``F`` and a similarity threshold ``delta`` (:func:`calibrate_threshold`):

1. ``S = F F^T`` with entries below ``delta`` set to zero; a sequence's density is its row sum.
2. Seed a bin at the densest sequence that is unassigned and has not seeded a bin yet.
3. ``n_refine`` times: take the unassigned sequences with ``F x . medoid >= delta`` and move
   the medoid to their mean (not renormalised, as in the authors' code).
4. Assign the last set to the bin, subtract their columns of ``S`` from every density, repeat.
5. Bins with fewer than ``min_bin_size`` members are unbinned (label -1).

:func:`kmedoid_bins` evaluates ``S`` exactly, streamed in blocks (memory O(n x block), time
O(n^2 d)); :func:`graph_bins` keeps only each sequence's ``k`` most similar neighbours above
``delta`` (memory O(n k)). Because the medoid is a mean, any sequence within ``delta`` of
it is within ``delta`` of at least one member, so searching the members' neighbourhoods
loses nothing when ``k >= n``: the two binners then give identical bins.
:func:`bin_embeddings` runs either by name.

Scores live in :mod:`biocl.evaluate.amber` and are re-exported here.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from biocl.utils.console import progress, stage
from biocl.utils.errors import BioclError
from biocl.evaluate.amber import BinMatch, amber_metrics, match_bins

__all__ = [
    "calibrate_threshold",
    "kmedoid_bins",
    "graph_bins",
    "knn_graph",
    "bin_embeddings",
    "KMEDOID_MAX_N",
    "BinMatch",
    "match_bins",
    "amber_metrics",
]

#: Largest input :func:`kmedoid_bins` accepts by default: its time grows as n^2 (2.4 s at
#: 10^4 sequences on one shared core, so tens of seconds here) and the paper's dense n x n
#: matrix would need 3.6 GB at that size; past it, :func:`graph_bins` gives (nearly) the
#: same bins at O(n k) memory.
KMEDOID_MAX_N = 30_000


def _normalised(embeddings: np.ndarray) -> np.ndarray:
    matrix = np.asarray(embeddings, dtype=np.float32)
    if matrix.ndim != 2 or len(matrix) == 0:
        raise ValueError(f"expected embeddings of shape (n, d) with n > 0, got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("embeddings contain NaN or infinite values")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1.0))


def calibrate_threshold(embeddings: np.ndarray, labels: Sequence, *, percentile: float = 70.0) -> float:
    """The binning threshold delta from a labelled calibration set (the paper's rule).

    Each sequence's similarity to its species centroid is ``x . c`` with ``x`` the
    L2-normalised embedding and ``c`` the plain mean of its species' normalised embeddings
    (not renormalised, as in the authors' code, so a tight species has ``|c|`` near 1).
    delta is the order statistic at index ``floor(percentile / 100 * n)`` of these ``n``
    similarities sorted ascending: about 70 % of sequences lie *below* delta, i.e. delta is
    strict, and a sequence must be closer to a medoid than most sequences are to their own
    species' centre.

    Parameters
    ----------
    embeddings : array of shape (n_sequences, n_features)
        Embeddings of a labelled calibration set (held out from the sequences to bin).
    labels : sequence of length n_sequences
        Species of each sequence.
    percentile : float
        Percentile in [0, 100].

    Returns
    -------
    delta : float
        Cosine-similarity threshold for :func:`kmedoid_bins` and :func:`graph_bins`.
    """
    features = _normalised(embeddings).astype(np.float64)
    labels = np.asarray(labels)
    if len(labels) != len(features):
        raise ValueError("one label per embedding is needed")
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], not {percentile}")
    similarities = np.empty(len(features))
    for species in np.unique(labels):
        members = labels == species
        similarities[members] = features[members] @ features[members].mean(axis=0)
    ordered = np.sort(similarities)
    return float(ordered[min(int(percentile / 100.0 * len(ordered)), len(ordered) - 1)])


def _finish(labels: np.ndarray, min_bin_size: int) -> np.ndarray:
    """Unbin bins smaller than ``min_bin_size``; number the rest 0.. in creation order."""
    out = np.full(len(labels), -1, dtype=np.int64)
    binned = labels >= 0
    if binned.any():
        sizes = np.bincount(labels[binned])
        kept = np.flatnonzero(sizes >= min_bin_size)
        new_id = np.full(len(sizes), -1, dtype=np.int64)
        new_id[kept] = np.arange(len(kept))
        out[binned] = new_id[labels[binned]]
    return out


def _only_singletons_left(seed: int, density: np.ndarray, self_term: np.ndarray, threshold: np.float32) -> bool:
    """Whether the densest open seed has no unassigned neighbour left above the threshold.

    With a positive threshold every kept similarity is at least ``threshold``, so a density
    within ``threshold / 2`` of the sequence's own term means no neighbour is left; and as
    the seed is the densest, the same holds for every open seed.
    """
    return threshold > 0 and density[seed] - self_term[seed] < threshold / 2


def _bin_singletons(labels: np.ndarray, n_bins: int, density: np.ndarray, seedable: np.ndarray,
                    self_similarity: np.ndarray, threshold: np.float32) -> None:
    """Give every open seed its own bin, in the order the greedy loop would have seeded them."""
    remaining = np.flatnonzero(seedable & (self_similarity >= threshold))
    order = remaining[np.lexsort((remaining, -density[remaining]))]
    labels[order] = n_bins + np.arange(len(order))


def _thresholded(block: np.ndarray, threshold: float) -> np.ndarray:
    block[block < threshold] = 0.0
    return block


def kmedoid_bins(embeddings: np.ndarray, threshold: float, *, min_bin_size: int = 10, n_refine: int = 3,
                 max_n: int = KMEDOID_MAX_N, block_size: int = 2048) -> np.ndarray:
    """The paper's modified K-medoid binning, with the exact similarity matrix.

    See the module docstring for the procedure. ``S`` is streamed in blocks of
    ``block_size`` rows rather than held whole, so memory stays O(n x block_size); time is
    O(n^2 d), hence the ``max_n`` limit.

    Parameters
    ----------
    embeddings : array of shape (n_sequences, n_features)
        Sequence embeddings (normalised here).
    threshold : float
        Cosine-similarity threshold delta (:func:`calibrate_threshold`).
    min_bin_size : int
        Bins with fewer members are unbinned (the paper: 10 sequences).
    n_refine : int
        Medoid updates per bin (the paper: 3).
    max_n : int
        Refuse larger inputs (see :data:`KMEDOID_MAX_N`).
    block_size : int
        Rows of ``S`` computed at once.

    Returns
    -------
    bins : ndarray of shape (n_sequences,), int64
        Bin of each sequence, numbered 0.. in the order bins were found; -1 = unbinned.

    Raises
    ------
    BioclError
        More than ``max_n`` sequences.
    """
    features = _normalised(embeddings)
    n = len(features)
    if n > max_n:
        raise BioclError(f"the K-medoid binner takes at most {max_n} sequences (got {n}); its cost grows as n^2",
                         hint="use the k-nearest-neighbour graph binner (graph_bins, `--binner graph`), "
                              "which gives the same bins at O(n k) memory")
    threshold = np.float32(threshold)
    density = np.empty(n, dtype=np.float64)
    for start in range(0, n, block_size):
        block = features[start:start + block_size] @ features.T
        density[start:start + block_size] = _thresholded(block, threshold).sum(axis=1, dtype=np.float64)
    labels = np.full(n, -1, dtype=np.int64)
    unassigned = np.ones(n, dtype=bool)
    seedable = np.ones(n, dtype=bool)
    self_similarity = np.einsum("ij,ij->i", features, features)
    self_term = np.where(self_similarity >= threshold, self_similarity, 0.0)
    n_bins = 0
    while seedable.any():
        seed = int(np.argmax(np.where(seedable, density, -np.inf)))
        if _only_singletons_left(seed, density, self_term, threshold):
            _bin_singletons(labels, n_bins, density, seedable, self_similarity, threshold)
            break
        seedable[seed] = False
        members = _refine(features, seed, threshold, n_refine,
                          lambda medoid, _: np.flatnonzero((features @ medoid >= threshold) & unassigned))
        if members.size == 0:
            continue
        labels[members] = n_bins
        n_bins += 1
        unassigned[members] = False
        seedable[members] = False
        for start in range(0, members.size, block_size):
            block = features @ features[members[start:start + block_size]].T
            density -= _thresholded(block, threshold).sum(axis=1, dtype=np.float64)
    return _finish(labels, min_bin_size)


def _refine(features: np.ndarray, seed: int, threshold: np.float32, n_refine: int, find) -> np.ndarray:
    """Step 3: the final member set (sorted indices) of a bin seeded at ``seed``.

    ``find(medoid, members)`` returns the unassigned sequences with similarity to
    ``medoid`` at least ``threshold``; ``members`` is the previous set (the seed alone at
    first), whose neighbourhoods the graph binner searches.
    """
    members = np.zeros(0, dtype=np.int64)
    previous = np.array([seed])
    medoid = features[seed]
    for _ in range(n_refine):
        found = find(medoid, previous)
        if found.size == 0:
            break
        if np.array_equal(found, previous):
            # The medoid is already the mean of this set, so later steps would find it again.
            return found
        members = previous = found
        medoid = features[members].mean(axis=0)
    return members


def knn_graph(embeddings: np.ndarray, k: int, *, threshold: float = -1.0, batch_size: int = 4096,
              device: str = "cpu", backend: str = "exact"):
    """k-nearest-neighbour cosine-similarity graph, kept above ``threshold`` and symmetrised.

    ``backend="exact"`` computes it block by block with torch (rows and columns in blocks
    of ``batch_size``, keeping a running top-k): memory O(n k + batch_size^2), never n x n,
    time O(n^2 d). Among exactly tied similarities the neighbours kept may depend on
    ``batch_size``. ``backend="faiss"`` uses an approximate HNSW index (faiss, optional:
    ``pip install 'biocl[faiss]'``): time about O(n log n), most true neighbours found, the
    choice for 10^6 sequences on a CPU; faiss's threads make its graph vary slightly from
    run to run.

    Parameters
    ----------
    embeddings : array of shape (n_sequences, n_features)
        Sequence embeddings (normalised here).
    k : int
        Neighbours kept per sequence (itself included); ``k >= n`` keeps every pair.
    threshold : float
        Edges with similarity below this are dropped.
    batch_size : int
        Block size of the similarity computation (exact backend).
    device : str
        Torch device for the matrix products (``"cpu"`` or ``"cuda"``; exact backend).
    backend : {"exact", "faiss"}
        How neighbours are found.

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n, n), float32
        Symmetric: ``graph[i, j]`` is the similarity when ``j`` is among ``i``'s ``k``
        nearest or ``i`` among ``j``'s, and at least ``threshold``.
    """
    from scipy.sparse import csr_matrix

    features = _normalised(embeddings)
    n = len(features)
    k = int(min(k, n))
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if backend == "exact":
        values, neighbours = _exact_top_k(features, k, batch_size, device)
    elif backend == "faiss":
        values, neighbours = _faiss_top_k(features, k)
    else:
        raise BioclError(f"unknown kNN backend {backend!r}", hint="use 'exact' or 'faiss'")
    keep = (values >= threshold) & (neighbours >= 0)
    rows = np.broadcast_to(np.arange(n, dtype=np.int32)[:, None], neighbours.shape)[keep]
    graph = csr_matrix((values[keep], (rows, neighbours[keep])), shape=(n, n), dtype=np.float32)
    return graph.maximum(graph.T).tocsr()


def _exact_top_k(features: np.ndarray, k: int, batch_size: int, device: str) -> tuple[np.ndarray, np.ndarray]:
    import torch

    n = len(features)
    tensor = torch.from_numpy(features).to(device)
    values = np.empty((n, k), dtype=np.float32)
    neighbours = np.empty((n, k), dtype=np.int32)
    blocks = range(0, n, batch_size)
    # One block is one matrix product, over in an instant: only a search of several blocks is shown.
    shown = progress(blocks, total=len(blocks), description="finding nearest neighbours", unit="block") \
        if len(blocks) > 1 else blocks
    for start in shown:
        rows = tensor[start:start + batch_size]
        best_val = torch.full((len(rows), 0), float("-inf"), device=device)
        best_idx = torch.zeros((len(rows), 0), dtype=torch.long, device=device)
        for col_start in range(0, n, batch_size):
            sims = rows @ tensor[col_start:col_start + batch_size].T
            # Top-k of the block first, then of (running, block) pairs: never a
            # batch x batch index matrix.
            block = torch.topk(sims, min(k, sims.shape[1]), dim=1)
            merged_val = torch.cat([best_val, block.values], dim=1)
            merged_idx = torch.cat([best_idx, block.indices + col_start], dim=1)
            top = torch.topk(merged_val, min(k, merged_val.shape[1]), dim=1)
            best_val, best_idx = top.values, torch.gather(merged_idx, 1, top.indices)
        values[start:start + len(rows)] = best_val.cpu().numpy()
        neighbours[start:start + len(rows)] = best_idx.cpu().numpy()
    return values, neighbours


def _faiss_top_k(features: np.ndarray, k: int, batch_size: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    try:
        import faiss
    except ImportError as exc:
        raise BioclError("the 'faiss' kNN backend needs the faiss package",
                         hint="pip install 'biocl[faiss]' (faiss-cpu), or use the exact backend") from exc
    index = faiss.IndexHNSWFlat(features.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    with stage(f"indexing {len(features)} embeddings for the nearest-neighbour search"):
        index.add(features)
    index.hnsw.efSearch = max(2 * k, 128)
    values = np.empty((len(features), k), dtype=np.float32)
    neighbours = np.empty((len(features), k), dtype=np.int32)
    blocks = range(0, len(features), batch_size)
    for start in progress(blocks, total=len(blocks), description="finding nearest neighbours", unit="block"):
        found_values, found = index.search(features[start:start + batch_size], k)
        values[start:start + len(found)] = found_values
        neighbours[start:start + len(found)] = found
    return values, neighbours


def graph_bins(embeddings: np.ndarray, threshold: float, *, k: int = 50, min_bin_size: int = 10,
               n_refine: int = 3, batch_size: int = 4096, device: str = "cpu", backend: str = "exact",
               graph=None) -> np.ndarray:
    """The K-medoid procedure on a k-nearest-neighbour graph: memory O(n k), scales to 10^6 sequences.

    Densities are row sums of the thresholded kNN graph (:func:`knn_graph`); a bin's
    candidates are the neighbours of its current members; the densest seed is kept in a
    heap. With ``k >= n`` the graph is the full thresholded ``S`` and the bins equal
    :func:`kmedoid_bins`'s. With smaller ``k`` densities are truncated to each sequence's
    neighbours, so seeds (and bins) can differ: agreement with :func:`kmedoid_bins` is
    close (ARI > 0.95 in the tests) when ``k`` is at least half the typical number of
    sequences per species, and degrades gracefully below (about 0.75 at a sixth to an
    eighth).

    Time: the exact graph is one O(n^2 d) pass (blocked, on ``device``), the faiss graph
    about O(n log n); the greedy phase is O(n k log n). Memory: O(n k).

    Parameters
    ----------
    embeddings : array of shape (n_sequences, n_features)
        Sequence embeddings (normalised here).
    threshold : float
        Cosine-similarity threshold delta (:func:`calibrate_threshold`).
    k : int
        Neighbours per sequence in the graph.
    min_bin_size : int
        Bins with fewer members are unbinned.
    n_refine : int
        Medoid updates per bin.
    batch_size : int
        Block size of the graph construction.
    device : str
        Torch device for the graph construction.
    backend : {"exact", "faiss"}
        Neighbour search of :func:`knn_graph` (``"faiss"``: approximate, for 10^6 sequences).
    graph : scipy.sparse matrix | None
        A precomputed :func:`knn_graph` of these embeddings with this threshold (reuse it
        across thresholds above the one it was built with).

    Returns
    -------
    bins : ndarray of shape (n_sequences,), int64
        Bin of each sequence, numbered 0.. in the order bins were found; -1 = unbinned.
    """
    features = _normalised(embeddings)
    n = len(features)
    threshold32 = np.float32(threshold)
    if graph is None:
        graph = knn_graph(features, k, threshold=float(threshold32), batch_size=batch_size, device=device,
                          backend=backend)
    else:
        graph = graph.tocsr(copy=True)
        graph.data[graph.data < threshold32] = 0.0
        graph.eliminate_zeros()
    density = np.asarray(graph.sum(axis=1, dtype=np.float64)).ravel()
    labels = np.full(n, -1, dtype=np.int64)
    unassigned = np.ones(n, dtype=bool)
    seedable = np.ones(n, dtype=bool)
    # Ties pop the lowest index first, as np.argmax picks in kmedoid_bins.
    heap = [(-d, i) for i, d in enumerate(density.tolist())]
    heapq.heapify(heap)

    indptr, indices, values = graph.indptr, graph.indices, graph.data

    def row_entries(members: np.ndarray) -> np.ndarray:
        # Positions in `indices` of every stored entry of these rows (scipy's row
        # indexing costs ~50 us a call; most bins are a handful of sequences).
        starts, stops = indptr[members], indptr[members + 1]
        lengths = stops - starts
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return offsets + np.arange(lengths.sum())

    def find(medoid: np.ndarray, members: np.ndarray) -> np.ndarray:
        candidates = np.union1d(indices[row_entries(members)], members)
        candidates = candidates[unassigned[candidates]]
        return candidates[features[candidates] @ medoid >= threshold32]

    self_similarity = np.einsum("ij,ij->i", features, features)
    self_term = graph.diagonal().astype(np.float64)
    n_bins = 0
    while heap:
        negative_density, seed = heapq.heappop(heap)
        if not seedable[seed] or -negative_density != density[seed]:
            continue
        if _only_singletons_left(seed, density, self_term, threshold32):
            _bin_singletons(labels, n_bins, density, seedable, self_similarity, threshold32)
            break
        seedable[seed] = False
        members = _refine(features, seed, threshold32, n_refine, find)
        if members.size == 0:
            continue
        labels[members] = n_bins
        n_bins += 1
        unassigned[members] = False
        seedable[members] = False
        entries = row_entries(members)
        touched, position = np.unique(indices[entries], return_inverse=True)
        density[touched] -= np.bincount(position, weights=values[entries].astype(np.float64),
                                        minlength=len(touched))
        for node in touched[seedable[touched]].tolist():
            heapq.heappush(heap, (-density[node], node))
    return _finish(labels, min_bin_size)


def bin_embeddings(embeddings: np.ndarray, threshold: float, *, binner: str = "graph", k: int = 50,
                   min_bin_size: int = 10) -> np.ndarray:
    """Bins from embeddings: the paper's K-medoid or the k-nearest-neighbour graph binner.

    Parameters
    ----------
    embeddings : array of shape (n, d)
        The sequences to bin.
    threshold : float
        Cosine-similarity threshold.
    binner : {"graph", "kmedoid"}
        :func:`graph_bins` (memory O(n k)) or :func:`kmedoid_bins` (the paper's, O(n^2)).
    k : int
        Neighbours per sequence of the graph binner (capped at ``n - 1``).
    min_bin_size : int
        Smaller bins are unbinned.

    Returns
    -------
    ndarray of int64, shape (n,)
        Bin of each row, -1 for unbinned.
    """
    if binner == "kmedoid":
        return kmedoid_bins(embeddings, threshold, min_bin_size=min_bin_size)
    if binner == "graph":
        return graph_bins(embeddings, threshold, k=min(k, max(len(embeddings) - 1, 1)), min_bin_size=min_bin_size)
    raise BioclError(f"unknown binner {binner!r}", hint="use 'graph' or 'kmedoid'")
