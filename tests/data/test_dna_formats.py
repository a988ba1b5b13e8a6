"""Gold standards, FASTA writing, windows, reverse complement and positive pairs."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from biocl.data.dna.fasta import SequenceRecord, read_gold_standard, read_sequences, write_bioboxes, write_fasta
from biocl.data.dna.windows import reverse_complement, sample_positive_pairs, split_windows
from biocl.utils.errors import BioclError


def test_bioboxes_gold_standard_with_extra_columns(tmp_path):
    path = tmp_path / "gold.binning"
    path.write_text("# CAMI gold standard\n@Version:0.9.1\n@SampleID:marine\n\n"
                    "@@SEQUENCEID\tBINID\tTAXID\t_LENGTH\n"
                    "c1\tgenomeA\t562\t5000\nc2\tgenomeB\t1280\t3000\nc3\tgenomeA\t562\t2500\n")
    assert read_gold_standard(path) == {"c1": "genomeA", "c2": "genomeB", "c3": "genomeA"}


def test_bioboxes_columns_in_another_order_and_taxid_only(tmp_path):
    path = tmp_path / "gold.binning"
    path.write_text("@Version:0.9.0\n@@TAXID\tSEQUENCEID\nt1\tc1\nt2\tc2\n")
    assert read_gold_standard(path) == {"c1": "t1", "c2": "t2"}


def test_plain_tsv_with_and_without_header(tmp_path):
    with_header = tmp_path / "a.tsv"
    with_header.write_text("sequence_id\tlabel\nc1\tx\nc2\ty\n")
    without = tmp_path / "b.tsv"
    without.write_text("c1\tx\nc2\ty\n")
    assert read_gold_standard(with_header) == read_gold_standard(without) == {"c1": "x", "c2": "y"}
    compressed = tmp_path / "c.tsv.gz"
    compressed.write_bytes(gzip.compress(b"c1\tx\n"))
    assert read_gold_standard(compressed) == {"c1": "x"}


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("c1\tx\nc2\n", "line 2 has no label"),
    ("c1\tx\nc1\ty\n", "two labels"),
    ("@@SEQUENCEID\tLABEL\nc1\tx\n", "SEQUENCEID and BINID"),
])
def test_bad_gold_standards(tmp_path, text, message):
    path = tmp_path / "gold.tsv"
    path.write_text(text)
    with pytest.raises(BioclError, match=message):
        read_gold_standard(path)


def test_bioboxes_round_trip(tmp_path):
    assignments = {"c1": "bin_0", "c2": "bin_1"}
    path = write_bioboxes(tmp_path / "out" / "bins.binning", assignments, sample_id="s1",
                          extra_columns={"_LENGTH": {"c1": 10, "c2": 20}})
    text = path.read_text()
    assert "@SampleID:s1" in text and "@@SEQUENCEID\tBINID\t_LENGTH" in text
    assert read_gold_standard(path) == assignments
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["out.fa", "out.fa.gz"])
def test_write_fasta_round_trip(tmp_path, name):
    records = [SequenceRecord("a", "ACGT" * 50, 200), SequenceRecord("b", "N" * 7 + "ACG", 10)]
    path = write_fasta(tmp_path / name, iter(records))
    assert list(read_sequences(path, min_length_bp=1)) == records
    assert max(len(line) for line in path.read_bytes().splitlines()) <= 80 or name.endswith(".gz")


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
