"""Windows, reverse complement and positive pairs."""

from __future__ import annotations

import numpy as np
import pytest

from biocl.data.dna.windows import reverse_complement, sample_positive_pairs, split_windows
from biocl.utils.errors import BioclError


def test_split_windows():
    seq = "A" * 25_000
    assert [len(w) for w in split_windows(seq)] == [10_000, 10_000, 5_000]
    assert [len(w) for w in split_windows("A" * 21_000)] == [10_000, 10_000]
    assert [len(w) for w in split_windows("A" * 21_000, min_window_bp=500)] == [10_000, 10_000, 1_000]
    assert split_windows("ACGT" * 100) == ["ACGT" * 100]
    assert split_windows("") == []
    windows = split_windows("ACGTTGCA" * 2000, window_bp=3000)
    assert "".join(windows) == ("ACGTTGCA" * 2000)[: 3000 * len(windows)]


def test_reverse_complement():
    assert reverse_complement("AACGTN") == "NACGTT"
    assert reverse_complement("acgR") == "Ycgt"
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGTRYN"), 500))
    assert reverse_complement(reverse_complement(seq)) == seq


def _random_genome(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), length))


def test_positive_pairs_are_non_overlapping_segments_of_one_genome():
    rng = np.random.default_rng(1)
    genomes = {"g1": [_random_genome(rng, 5000)], "g2": [_random_genome(rng, 3000), _random_genome(rng, 4000)]}
    pairs = sample_positive_pairs(genomes, 200, 1000, np.random.default_rng(2))
    assert len(pairs) == 200
    assert {label for _, _, label in pairs} == {"g1", "g2"}
    for a, b, label in pairs:
        assert len(a) == len(b) == 1000
        source = next(s for s in genomes[label] if a in s)
        assert b in source
        start_a, start_b = source.find(a), source.find(b)
        assert abs(start_a - start_b) >= 1000


def test_positive_pairs_shorten_for_short_genomes_and_skip_tiny_ones():
    rng = np.random.default_rng(3)
    genomes = {"short": [_random_genome(rng, 1500)], "tiny": [_random_genome(rng, 300)]}
    pairs = sample_positive_pairs(genomes, 20, 1000, np.random.default_rng(0))
    assert all(label == "short" and len(a) == len(b) == 750 for a, b, label in pairs)
    with pytest.raises(BioclError, match="no genome has a sequence"):
        sample_positive_pairs({"tiny": genomes["tiny"]}, 5, 1000, np.random.default_rng(0))


def test_positive_pairs_are_deterministic_for_a_seed():
    rng = np.random.default_rng(4)
    genomes = {"g": [_random_genome(rng, 4000)], "h": [_random_genome(rng, 4000)]}
    first = sample_positive_pairs(genomes, 10, 500, np.random.default_rng(7))
    assert first == sample_positive_pairs(genomes, 10, 500, np.random.default_rng(7))
    assert first != sample_positive_pairs(genomes, 10, 500, np.random.default_rng(8))
