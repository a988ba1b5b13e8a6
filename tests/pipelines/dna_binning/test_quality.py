"""The DNA input's data quality: length and GC distributions and counts, and their place in summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from biocl.pipelines.dna_binning import bin_fasta
from biocl.pipelines.dna_binning.quality import MAX_HISTOGRAM_VALUES, gc_fraction, n50_bp, sequence_quality


def test_counts_are_those_of_the_sequences() -> None:
    sequences = ["GGCC" * 25, "ATAT" * 50, "ACGTNN" * 50]  # 100, 200 and 300 bp
    quality = sequence_quality(sequences, what="test sequences")
    counts = quality["counts"]
    assert counts["n_sequences"] == 3 and counts["total_bp"] == 600
    # Longest first: 300 bp already reaches half of 600 bp.
    assert counts["n50_bp"] == 300 and counts["min_length_bp"] == 100 and counts["max_length_bp"] == 300
    # G+C over unambiguous bases: 100 + 0 + 100 of 100 + 200 + 200; N counts in the length, not in GC.
    assert counts["gc_mean"] == pytest.approx(200 / 500)
    lengths, gc = quality["figures"]
    assert lengths["kind"] == gc["kind"] == "histogram"
    assert lengths["values"] == [100, 200, 300] and gc["values"] == pytest.approx([1.0, 0.0, 0.5])
    assert "test sequences" in lengths["title"] and "(bp)" in lengths["xlabel"]


def test_gc_and_n50_edge_cases() -> None:
    assert gc_fraction("NNNN") != gc_fraction("NNNN")  # NaN: no base to count
    assert gc_fraction("acgt") == 0.5
    assert n50_bp([]) == 0 and n50_bp([10, 10, 10, 10]) == 10 and n50_bp([1, 1, 8]) == 8


def test_a_large_input_is_subsampled_and_the_title_says_so() -> None:
    rng = np.random.default_rng(0)
    sequences = ["".join(rng.choice(list("ACGT"), size=int(n))) for n in rng.integers(20, 60, MAX_HISTOGRAM_VALUES + 7)]
    quality = sequence_quality(sequences)
    assert quality["counts"]["n_sequences"] == MAX_HISTOGRAM_VALUES + 7
    assert all(len(f["values"]) == MAX_HISTOGRAM_VALUES and "subsample" in f["title"] for f in quality["figures"])
    assert all(0.0 <= v <= 1.0 for v in quality["figures"][1]["values"])


def test_bin_fasta_writes_the_input_quality_into_its_summary(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    fasta = tmp_path / "contigs.fa"
    lines = []
    for i in range(30):
        # Two compositions (GC-rich and AT-rich) so binning has something to find.
        probs = [0.15, 0.35, 0.35, 0.15] if i % 2 else [0.35, 0.15, 0.15, 0.35]
        lines += [f">c{i}", "".join(rng.choice(list("ACGT"), size=3_000, p=probs))]
    fasta.write_text("\n".join(lines) + "\n")
    summary = bin_fasta(fasta, tmp_path / "out", features="tnf", min_length_bp=2_000, min_bin_size=3)
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    counts = written["data_quality"]["counts"]
    assert counts["n_sequences"] == 30 and counts["total_bp"] == 90_000 and counts["n50_bp"] == 3_000
    assert 0.4 < counts["gc_mean"] < 0.6 and summary["data_quality"] == written["data_quality"]
    gc = written["data_quality"]["figures"][1]["values"]
    assert len(gc) == 30 and min(gc) < 0.4 < 0.6 < max(gc)
