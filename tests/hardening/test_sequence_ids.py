"""Sequence ids are UTF-8 text kept byte-exact through every reader and writer (issue #15, class 3)."""

from __future__ import annotations

import gzip
import io
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from biocl.data.dna.bins import read_bins, write_bins
from biocl.data.dna.fasta import SequenceRecord, read_gold_standard, read_sequences, write_bioboxes, write_fasta
from biocl.utils.errors import BioclError

IDS = ["uni_é_1", "uni_è_1", "e\u0301_decomposed", "é_composed", "名前", "nbsp\u00a0inside", "x" * 10_000]


def _fasta(ids: list[str]) -> bytes:
    rng = np.random.default_rng(0)
    return b"".join(f">{i}\tdescription\twith tabs\n".encode() + "".join(rng.choice(list("ACGT"), 100)).encode()
                    + b"\n" for i in ids)


def test_ids_read_as_utf8_split_on_ascii_space_only(tmp_path: Path) -> None:
    path = tmp_path / "a.fa"
    path.write_bytes(_fasta(IDS))
    assert [r.id for r in read_sequences(path, min_length_bp=0)] == IDS


def test_two_different_accented_ids_are_not_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "a.fa"
    path.write_bytes(_fasta(["uni_é_1", "uni_è_1"]))
    assert len(list(read_sequences(path, min_length_bp=0))) == 2
    path.write_bytes(_fasta(["uni_é_1", "uni_é_1"]))
    with pytest.raises(BioclError, match="duplicate sequence id 'uni_é_1'"):
        list(read_sequences(path, min_length_bp=0))


def test_a_header_that_is_not_utf8_is_refused_by_record(tmp_path: Path) -> None:
    path = tmp_path / "latin1.fa"
    path.write_bytes(b">ok\nACGT\n>caf\xe9\nACGT\n")
    with pytest.raises(BioclError, match=r"record 2: the id is not UTF-8 text \(byte 0xE9"):
        list(read_sequences(path, min_length_bp=0))


@pytest.mark.parametrize("suffix", [".fa", ".fa.gz"])
def test_fasta_round_trip_is_byte_exact(tmp_path: Path, suffix: str) -> None:
    records = [SequenceRecord(i, "ACGT" * 30, 120) for i in IDS]
    out = write_fasta(tmp_path / f"out{suffix}", records)
    assert [r.id for r in read_sequences(out, min_length_bp=0)] == IDS
    raw = gzip.decompress(out.read_bytes()) if suffix.endswith(".gz") else out.read_bytes()
    assert [line[1:] for line in raw.splitlines() if line.startswith(b">")] == [i.encode() for i in IDS]


def test_bins_folder_round_trip_is_byte_exact(tmp_path: Path) -> None:
    records = [SequenceRecord(i, "ACGT" * 30, 120) for i in IDS]
    bins = np.array([0, 0, 1, 1, -1, 0, 1])
    write_bins(tmp_path / "bins", records, bins, [None] * 4 + ["too_short"] + [None] * 2)
    assert list(read_bins(tmp_path / "bins")) == IDS
    clusters = (tmp_path / "bins" / "clusters.tsv").read_bytes().splitlines()[1:]
    assert [line.split(b"\t")[0] for line in clusters] == [i.encode() for i in IDS]
    boxes = write_bioboxes(tmp_path / "b.binning", {i: "bin.1" for i in IDS})
    assert list(read_gold_standard(boxes)) == IDS


def test_a_fifo_and_standard_input_are_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = _fasta(IDS[:3])
    fifo = tmp_path / "pipe.fa"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(gzip.compress(payload)))
    writer.start()
    assert [r.id for r in read_sequences(fifo, min_length_bp=0)] == IDS[:3]
    writer.join()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(payload))))
    assert [r.id for r in read_sequences("-", min_length_bp=0)] == IDS[:3]


def test_a_folder_is_not_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="is a folder"):
        read_sequences(tmp_path)
    with pytest.raises(BioclError, match="no such file"):
        read_sequences(tmp_path / "absent.fa")
