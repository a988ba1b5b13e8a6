"""Tetranucleotide composition baselines: TNF, canonical TNF and TNF-K (VAMB's kernel).

The functions count the 256 ordered 4-mers of each sequence (step 1, any 4-mer that
touches a base other than A, C, G, T skipped); the scikit-learn transformers turn the
counts into the paper's baseline features:

- :class:`TNF`: counts divided by their total, then L2-normalised (256 features);
- :class:`CanonicalTNF`: each 4-mer merged with its reverse complement (136 features);
- :class:`TNFKernel`: TNF-K, the frequencies minus 1/256 projected onto an orthonormal
  basis of the 103-dimensional subspace that 4-mer frequencies of double-stranded DNA
  occupy (:func:`tnf_kernel_basis`).

The transformers are stateless (``fit`` only checks the input and records the output
feature names); they take a list of sequences, not a numeric matrix, so scikit-learn's
data-driven estimator checks do not apply to them (the parameter and cloning checks do,
see ``tests/data/dna/test_tnf.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from functools import cache

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "KMERS",
    "CANONICAL_KMERS",
    "tetranucleotide_counts",
    "tetranucleotide_frequencies",
    "canonical_merge_matrix",
    "tnf_kernel_basis",
    "TNF",
    "CanonicalTNF",
    "TNFKernel",
]

_BASES = "ACGT"
#: The 256 ordered 4-mers, in the column order of every TNF matrix (A < C < G < T).
KMERS: tuple[str, ...] = tuple("".join(p) for p in itertools.product(_BASES, repeat=4))
_INDEX = {kmer: i for i, kmer in enumerate(KMERS)}
_RC = str.maketrans("ACGT", "TGCA")
#: The 136 canonical 4-mers (the lexicographically smaller of a 4-mer and its reverse complement).
CANONICAL_KMERS: tuple[str, ...] = tuple(sorted({min(k, k.translate(_RC)[::-1]) for k in KMERS}))
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _base in enumerate(_BASES):
    _CODE[ord(_base)] = _i
    _CODE[ord(_base.lower())] = _i


def _reverse_complement(kmer: str) -> str:
    return kmer.translate(_RC)[::-1]


def _count_one(seq: str) -> np.ndarray:
    codes = _CODE[np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)]
    if codes.size < 4:
        return np.zeros(256, dtype=np.int64)
    valid = codes < 4
    window_valid = valid[:-3] & valid[1:-2] & valid[2:-1] & valid[3:]
    c = codes.astype(np.int32)
    index = c[:-3] * 64 + c[1:-2] * 16 + c[2:-1] * 4 + c[3:]
    return np.bincount(index[window_valid], minlength=256).astype(np.int64)


def tetranucleotide_counts(sequences: Sequence[str]) -> np.ndarray:
    """Count the 256 ordered 4-mers of each sequence (step 1).

    Parameters
    ----------
    sequences : sequence of str
        Nucleotide sequences (either case). A 4-mer containing any base other than
        A, C, G, T (N, other IUPAC codes) is not counted.

    Returns
    -------
    counts : ndarray of shape (n_sequences, 256), int64
        Columns in the order of :data:`KMERS`.
    """
    _check_sequences(sequences)
    counts = np.zeros((len(sequences), 256), dtype=np.int64)
    for row, seq in enumerate(sequences):
        counts[row] = _count_one(seq)
    return counts


def tetranucleotide_frequencies(sequences: Sequence[str], *, canonical: bool = False,
                                l2_normalise: bool = False) -> np.ndarray:
    """4-mer frequencies: counts divided by their total per sequence.

    Parameters
    ----------
    sequences : sequence of str
        Nucleotide sequences.
    canonical : bool
        Merge each 4-mer with its reverse complement (136 columns, :data:`CANONICAL_KMERS`).
    l2_normalise : bool
        Scale each row to unit Euclidean norm afterwards.

    Returns
    -------
    frequencies : ndarray of shape (n_sequences, 256 or 136), float64
        A sequence without a single countable 4-mer gives a row of zeros.
    """
    counts = tetranucleotide_counts(sequences).astype(np.float64)
    if canonical:
        counts = counts @ canonical_merge_matrix()
    frequencies = _divide_rows(counts, counts.sum(axis=1))
    if l2_normalise:
        frequencies = _divide_rows(frequencies, np.linalg.norm(frequencies, axis=1))
    return frequencies


def _divide_rows(matrix: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    safe = np.where(denominators > 0, denominators, 1.0)
    return matrix / safe[:, None]


@cache
def _canonical_merge_matrix() -> np.ndarray:
    canonical_index = {kmer: i for i, kmer in enumerate(CANONICAL_KMERS)}
    merge = np.zeros((256, len(CANONICAL_KMERS)))
    for i, kmer in enumerate(KMERS):
        merge[i, canonical_index[min(kmer, _reverse_complement(kmer))]] = 1.0
    merge.setflags(write=False)
    return merge


def canonical_merge_matrix() -> np.ndarray:
    """The (256, 136) 0/1 matrix that sums each 4-mer's count into its canonical class.

    A palindromic 4-mer (its own reverse complement, e.g. ``ACGT``) is its own class and
    is counted once.
    """
    return _canonical_merge_matrix()


def _kernel_constraints() -> np.ndarray:
    rows = [np.ones(256)]
    # A k-mer spectrum read along a sequence has as many 3-mer prefixes as suffixes
    # (up to one end effect): sum_x f(ABCx) = sum_x f(xABC) for every 3-mer ABC.
    for trimer in ("".join(p) for p in itertools.product(_BASES, repeat=3)):
        row = np.zeros(256)
        for base in _BASES:
            row[_INDEX[trimer + base]] += 1.0
            row[_INDEX[base + trimer]] -= 1.0
        rows.append(row)
    # Both strands are read, so a 4-mer and its reverse complement are equally frequent.
    for kmer in KMERS:
        partner = _reverse_complement(kmer)
        if kmer < partner:
            row = np.zeros(256)
            row[_INDEX[kmer]] = 1.0
            row[_INDEX[partner]] = -1.0
            rows.append(row)
    return np.array(rows)


@cache
def _tnf_kernel_basis() -> np.ndarray:
    from scipy.linalg import null_space
    from threadpoolctl import threadpool_limits

    # The SVD is tiny (441 x 256); BLAS threads only add start-up cost and contention.
    with threadpool_limits(limits=1):
        basis = null_space(_kernel_constraints())
    basis.setflags(write=False)
    return basis


def tnf_kernel_basis() -> np.ndarray:
    """Orthonormal basis of the 4-mer frequency subspace used by TNF-K (VAMB's kernel).

    Built from its definition as the null space of three families of linear constraints
    on a centred 4-mer frequency vector ``f`` (256 entries): the entries sum to zero; for
    every 3-mer ``ABC``, ``sum_x f(ABCx) = sum_x f(xABC)``; and every 4-mer equals its
    reverse complement. The constraint matrix has rank 153, so the basis has 103 columns.

    Returns
    -------
    basis : ndarray of shape (256, 103), float64, read-only
        Orthonormal columns; rows in the order of :data:`KMERS`.
    """
    return _tnf_kernel_basis()


def _check_sequences(sequences: Sequence[str]) -> None:
    if isinstance(sequences, str) or not all(isinstance(s, str) for s in sequences):
        raise TypeError("expected a list of nucleotide sequences (str), e.g. ['ACGT...', ...]")


class _CompositionTransformer(TransformerMixin, BaseEstimator):
    """Shared stateless ``fit``/``transform`` over lists of sequences."""

    def fit(self, X: Sequence[str], y: object = None) -> _CompositionTransformer:
        """Check ``X`` is a list of sequences and record the output feature names; returns ``self``."""
        _check_sequences(X)
        self.feature_names_out_ = np.array(self._feature_names(), dtype=object)
        return self

    def transform(self, X: Sequence[str]) -> np.ndarray:
        """Composition features of each sequence, shape (n_sequences, n_features)."""
        check_is_fitted(self, "feature_names_out_")
        return self._transform(X)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The output column names (4-mers, or basis vector names for TNF-K)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_

    def __sklearn_tags__(self):  # noqa: D105 - scikit-learn protocol
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _feature_names(self) -> list[str]:
        raise NotImplementedError

    def _transform(self, X: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


class TNF(_CompositionTransformer):
    """Tetranucleotide frequencies: 256 ordered 4-mers, divided by the total, L2-normalised.

    The DNABERT-S paper's TNF baseline (not canonical; step 1).

    Parameters
    ----------
    l2_normalise : bool
        Scale each row to unit norm (the paper's baseline does).
    """

    def __init__(self, l2_normalise: bool = True):
        self.l2_normalise = l2_normalise

    def _feature_names(self) -> list[str]:
        return list(KMERS)

    def _transform(self, X: Sequence[str]) -> np.ndarray:
        return tetranucleotide_frequencies(X, canonical=False, l2_normalise=self.l2_normalise)


class CanonicalTNF(_CompositionTransformer):
    """Canonical tetranucleotide frequencies: 136 classes of a 4-mer and its reverse complement.

    Strand-independent, so a contig and its reverse complement get the same vector.

    Parameters
    ----------
    l2_normalise : bool
        Scale each row to unit norm.
    """

    def __init__(self, l2_normalise: bool = True):
        self.l2_normalise = l2_normalise

    def _feature_names(self) -> list[str]:
        return list(CANONICAL_KMERS)

    def _transform(self, X: Sequence[str]) -> np.ndarray:
        return tetranucleotide_frequencies(X, canonical=True, l2_normalise=self.l2_normalise)


class TNFKernel(_CompositionTransformer):
    """TNF-K: 4-mer frequencies minus 1/256, projected by the (256, 103) kernel basis.

    As in VAMB and the DNABERT-S baseline, the input is the plain frequency vector (sums
    to one), not the L2-normalised one, and the output is not normalised. The basis is
    orthogonal to the all-ones vector, so subtracting 1/256 changes nothing after the
    projection; it is kept to follow the definition.
    """

    def _feature_names(self) -> list[str]:
        return [f"kernel{i}" for i in range(tnf_kernel_basis().shape[1])]

    def _transform(self, X: Sequence[str]) -> np.ndarray:
        frequencies = tetranucleotide_frequencies(X, canonical=False, l2_normalise=False)
        return (frequencies - 1.0 / 256) @ tnf_kernel_basis()
