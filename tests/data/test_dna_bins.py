"""The binning output folder: every record written once, and read back as it was written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biocl.data.dna.bins import UNBINNED, read_bin_lengths, read_bins, write_bins
from biocl.data.dna.fasta import SequenceRecord
from biocl.utils.errors import BioclError


def _records() -> list[SequenceRecord]:
    return [SequenceRecord(f"s{i}", "ACGT" * (i + 1), 4 * (i + 1)) for i in range(5)]


def test_written_bins_read_back_from_folder_table_and_bioboxes(tmp_path: Path) -> None:
    records = _records()
    # Bin 7 has three members, bin 2 one: renumbered by size, largest first.
    written = write_bins(tmp_path, records, np.array([7, 2, 7, -1, 7]), [None, None, None, "too_short", None])
    assert written["n_bins"] == 2 and written["bin_sizes"] == [3, 1] and written["n_unbinned"] == 1
    expected = {"s0": "bin.1", "s1": "bin.2", "s2": "bin.1", "s3": UNBINNED, "s4": "bin.1"}
    assert read_bins(tmp_path) == expected
    assert read_bins(tmp_path / "clusters.tsv") == expected
    assert read_bins(tmp_path / "bins.binning") == {k: v for k, v in expected.items() if v != UNBINNED}
    assert read_bin_lengths(tmp_path) == {r.id: r.length_bp for r in records}
    assert (tmp_path / "unbinned.tsv").read_text().splitlines()[1] == "s3\t16\ttoo_short"


def test_a_folder_without_bins_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="no clusters.tsv"):
        read_bins(tmp_path)
    with pytest.raises(BioclError, match="not found"):
        read_bins(tmp_path / "missing.tsv")
    assert read_bin_lengths(tmp_path) is None
