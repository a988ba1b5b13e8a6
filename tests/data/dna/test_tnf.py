"""TNF baselines against brute-force counts; TNF-K's kernel basis against its definition."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
import sklearn.utils.estimator_checks as checks
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

from biocl.data.dna.windows import reverse_complement
from biocl.data.dna.tnf import (
    CANONICAL_KMERS,
    KMERS,
    TNF,
    CanonicalTNF,
    TNFKernel,
    canonical_merge_matrix,
    tetranucleotide_counts,
    tnf_kernel_basis,
)

TRANSFORMERS = [TNF(), CanonicalTNF(), TNFKernel()]


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # A threaded BLAS on a shared 2-core machine makes a 441 x 256 SVD take seconds.
    with threadpool_limits(limits=1):
        yield


def _brute_force_counts(seq: str) -> dict[str, int]:
    counts = dict.fromkeys(KMERS, 0)
    seq = seq.upper()
    for i in range(len(seq) - 3):
        if seq[i:i + 4] in counts:
            counts[seq[i:i + 4]] += 1
    return counts


@pytest.fixture
def sequences() -> list[str]:
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTacgtN"), size=n, p=[.2, .2, .2, .2, .04, .04, .04, .04, .04]))
            for n in (5, 300, 2000)]
    return seqs + ["ACG", "NNNNNNNN"]


def test_counts_match_brute_force(sequences):
    counts = tetranucleotide_counts(sequences)
    for row, seq in zip(counts, sequences):
        assert row.tolist() == list(_brute_force_counts(seq).values())


def test_tnf_is_l2_normalised_frequency(sequences):
    features = TNF().fit_transform(sequences)
    assert features.shape == (len(sequences), 256)
    for row, seq in zip(features, sequences):
        brute = np.array(list(_brute_force_counts(seq).values()), dtype=float)
        if brute.sum() == 0:
            assert not row.any()
            continue
        expected = brute / brute.sum()
        np.testing.assert_allclose(row, expected / np.linalg.norm(expected))
    raw = TNF(l2_normalise=False).fit_transform(sequences[:3])
    np.testing.assert_allclose(raw.sum(axis=1), 1.0)


def test_canonical_tnf_merges_reverse_complements(sequences):
    assert len(CANONICAL_KMERS) == 136
    merge = canonical_merge_matrix()
    assert merge.shape == (256, 136) and (merge.sum(axis=0) >= 1).all() and (merge.sum(axis=1) == 1).all()
    palindromes = [k for k in KMERS if reverse_complement(k) == k]
    assert len(palindromes) == 16
    model = CanonicalTNF(l2_normalise=False).fit(sequences)
    features = model.transform(sequences[1:3])
    for row, seq in zip(features, sequences[1:3]):
        brute = _brute_force_counts(seq)
        merged = {c: brute[c] + (brute[reverse_complement(c)] if reverse_complement(c) != c else 0)
                  for c in CANONICAL_KMERS}
        expected = np.array(list(merged.values()), dtype=float)
        np.testing.assert_allclose(row, expected / expected.sum())
    # Strand-independent: a contig and its reverse complement are the same point.
    both = CanonicalTNF().fit_transform([sequences[2], reverse_complement(sequences[2])])
    np.testing.assert_allclose(both[0], both[1], atol=1e-12)


def _independent_constraints() -> np.ndarray:
    """The kernel's constraints, written again from the definition."""
    index = {k: i for i, k in enumerate(KMERS)}
    rows = [np.ones(256)]
    for a, b, c in itertools.product("ACGT", repeat=3):
        row = np.zeros(256)
        for x in "ACGT":
            row[index[a + b + c + x]] += 1
            row[index[x + a + b + c]] -= 1
        rows.append(row)
    for kmer in KMERS:
        row = np.zeros(256)
        row[index[kmer]] += 1
        row[index[reverse_complement(kmer)]] -= 1
        rows.append(row)
    return np.array(rows)


def test_kernel_basis_satisfies_every_constraint_and_has_rank_103():
    basis = tnf_kernel_basis()
    assert basis.shape == (256, 103)
    np.testing.assert_allclose(basis.T @ basis, np.eye(103), atol=1e-10)
    constraints = _independent_constraints()
    np.testing.assert_allclose(constraints @ basis, 0.0, atol=1e-10)
    assert np.linalg.matrix_rank(constraints) == 153
    assert np.linalg.matrix_rank(basis) == 103


def test_double_stranded_circular_spectrum_lies_in_the_kernel_span():
    # A circular genome counted on both strands meets every constraint exactly, so the
    # projection onto the basis loses nothing of its centred frequency vector.
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 3000, p=[.4, .1, .1, .4]))
    counts = tetranucleotide_counts([seq + seq[:3], reverse_complement(seq + seq[:3])]).sum(axis=0)
    centred = counts / counts.sum() - 1 / 256
    basis = tnf_kernel_basis()
    np.testing.assert_allclose(basis @ (basis.T @ centred), centred, atol=1e-12)


def test_tnf_kernel_transform(sequences):
    features = TNFKernel().fit_transform(sequences[1:3])
    frequencies = TNF(l2_normalise=False).fit_transform(sequences[1:3])
    np.testing.assert_allclose(features, (frequencies - 1 / 256) @ tnf_kernel_basis())
    assert features.shape == (2, 103)


@pytest.mark.parametrize("model", TRANSFORMERS, ids=lambda m: type(m).__name__)
def test_scikit_learn_discipline(model, sequences):
    name = type(model).__name__
    # The data-free estimator checks apply; the others feed numeric matrices, which a
    # transformer of DNA strings rejects by design, so their intent is checked below on sequences.
    for check in (checks.check_no_attributes_set_in_init, checks.check_parameters_default_constructible,
                  checks.check_get_params_invariance, checks.check_set_params, checks.check_estimator_cloneable,
                  checks.check_estimator_repr, checks.check_valid_tag_types, checks.check_mixin_order,
                  checks.check_do_not_raise_errors_in_init_or_set_params, checks.check_transformers_unfitted,
                  checks.check_get_feature_names_out_error):
        check(name, clone(model))
    fresh = clone(model)
    with pytest.raises(NotFittedError):
        fresh.transform(sequences)
    params = fresh.get_params()
    assert fresh.fit(sequences) is fresh
    assert fresh.get_params() == params
    first = fresh.transform(sequences)
    np.testing.assert_array_equal(fresh.fit(sequences).transform(sequences), first)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fresh)).transform(sequences), first)
    assert len(fresh.get_feature_names_out()) == first.shape[1]
    with pytest.raises(TypeError, match="list of nucleotide sequences"):
        clone(model).fit("ACGTACGT")
