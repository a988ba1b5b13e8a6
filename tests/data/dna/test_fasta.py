"""FASTA/FASTQ in and out: the readers, gold standards, the FASTA and bioboxes writers.

The readers are checked on formats, compression, IUPAC handling, filters, bad input and
streaming.
"""

from __future__ import annotations

import bz2
import gzip
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pytest

from biocl.data.dna.fasta import (
    ReadStats,
    SequenceRecord,
    read_gold_standard,
    read_sequences,
    write_bioboxes,
    write_fasta,
)
from biocl.utils.errors import BioclError

RECORDS = {"seq1": "ACGTACGTAC" * 30, "seq2": "GGGCCCAATT" * 40, "seq3": "TTTTAAAACC" * 35}


def _fasta_text(records: dict[str, str], line_bp: int = 60) -> str:
    lines = []
    for name, seq in records.items():
        lines.append(f">{name} some description")
        lines += [seq[i:i + line_bp] for i in range(0, len(seq), line_bp)]
    return "\n".join(lines) + "\n"


def _fastq_text(records: dict[str, str]) -> str:
    return "".join(f"@{name} desc\n{seq}\n+\n{'I' * len(seq)}\n" for name, seq in records.items())


def _write(path: Path, text: str | bytes, compression: str) -> Path:
    data = text.encode() if isinstance(text, str) else text
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "bzip2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("compression", ["plain", "gzip", "bzip2"])
@pytest.mark.parametrize("fmt", ["fasta", "fastq"])
def test_reads_every_format_and_compression(tmp_path, fmt, compression):
    text = _fasta_text(RECORDS) if fmt == "fasta" else _fastq_text(RECORDS)
    # A misleading name: compression and format are sniffed from the content.
    path = _write(tmp_path / "reads.txt", text, compression)
    records = list(read_sequences(path, min_length_bp=1))
    assert [r.id for r in records] == list(RECORDS)
    assert [r.seq for r in records] == list(RECORDS.values())
    assert all(r.length_bp == len(r.seq) for r in records)


def test_lower_case_uracil_and_crlf_are_accepted(tmp_path):
    path = _write(tmp_path / "x.fa", ">a\r\nacgtACGU\r\nnnac\r\n", "plain")
    stats = ReadStats()
    (record,) = read_sequences(path, min_length_bp=1, stats=stats)
    assert record == SequenceRecord("a", "ACGTACGTNNAC", 12)
    assert stats.n_lowercase == 1
    assert stats.n_ambiguous_bases_masked == 2


def test_iupac_codes_masked_and_counted(tmp_path):
    path = _write(tmp_path / "x.fa", ">a\nACGTRYKMSWBDHVN\n>b\nACGTACGT\n", "plain")
    stats = ReadStats()
    records = list(read_sequences(path, min_length_bp=1, ambiguous="mask", stats=stats))
    assert records[0].seq == "ACGT" + "N" * 11
    assert stats.n_ambiguous_bases_masked == 11
    assert stats.n_kept == 2 and stats.n_ambiguous_skipped == 0


def test_iupac_codes_skipped_and_counted(tmp_path):
    path = _write(tmp_path / "x.fa", ">a\nACGTRACGT\n>b\nACGTACGT\n>c\nNNACGT\n", "plain")
    stats = ReadStats()
    records = list(read_sequences(path, min_length_bp=1, ambiguous="skip", stats=stats))
    assert [r.id for r in records] == ["b"]
    assert stats.n_ambiguous_skipped == 2
    assert stats.n_ambiguous_bases_masked == 0


def test_minimum_length_filter_and_flow_tables(tmp_path):
    path = _write(tmp_path / "x.fa", _fasta_text({"short": "ACGT" * 10, "long": "ACGT" * 1000}), "plain")
    stats = ReadStats()
    records = list(read_sequences(path, min_length_bp=2500, stats=stats))
    assert [r.id for r in records] == ["long"]
    assert (stats.n_records, stats.n_kept, stats.n_too_short, stats.bases_kept) == (2, 1, 1, 4000)
    flow = stats.as_flow()
    assert [row["count"] for row in flow] == [2, 1, 1, 4000]
    assert all(set(row) == {"stage", "count", "unit"} for row in flow)
    exclusions = {row["reason"]: row["count"] for row in stats.as_exclusions()}
    assert exclusions["shorter than 2500 bp"] == 1


def test_all_sequences_too_short_is_a_one_line_error_with_counts(tmp_path):
    path = _write(tmp_path / "x.fa", _fasta_text({"a": "ACGT" * 10, "b": "ACGT" * 20}), "plain")
    with pytest.raises(BioclError, match=r"2 read, 2 shorter than 2500 bp") as info:
        list(read_sequences(path))
    assert str(path) in info.value.one_line() and "\n" not in info.value.one_line()


@pytest.mark.parametrize("content", [b"", b"\n\n   \n"])
def test_empty_file_is_an_error(tmp_path, content):
    path = _write(tmp_path / "empty.fa", content, "plain")
    with pytest.raises(BioclError, match="empty"):
        list(read_sequences(path))


def test_not_fasta_is_an_error(tmp_path):
    path = _write(tmp_path / "image.fa", b"\x89PNG\r\n\x1a\n\x00\x00binary", "plain")
    with pytest.raises(BioclError, match="not a FASTA or FASTQ"):
        list(read_sequences(path))
    with pytest.raises(BioclError, match="no such file"):
        list(read_sequences(tmp_path / "missing.fa"))


@pytest.mark.parametrize("garbage", [b"ACGT\x00\xff\xfeACGT", b"ACGT1234ACGT", b"ACGT-ACGT"])
def test_characters_outside_iupac_name_the_record(tmp_path, garbage):
    path = _write(tmp_path / "x.fa", b">good\nACGTACGT\n>bad_one\n" + garbage + b"\n", "plain")
    with pytest.raises(BioclError, match="'bad_one'.*not an IUPAC nucleotide code"):
        list(read_sequences(path, min_length_bp=1))


def test_duplicate_ids_are_an_error_naming_the_id(tmp_path):
    path = _write(tmp_path / "x.fa", ">dup first\nACGT\n>other\nACGT\n>dup again\nACGT\n", "plain")
    with pytest.raises(BioclError, match="duplicate sequence id 'dup'"):
        list(read_sequences(path, min_length_bp=1))


def test_damaged_gzip_and_bad_fastq_are_errors(tmp_path):
    many = {f"r{i}": seq for i in range(50) for seq in [RECORDS["seq1"]]}
    data = gzip.compress(_fasta_text(many).encode())
    truncated = _write(tmp_path / "cut.fa.gz", data[: len(data) // 2], "plain")
    with pytest.raises(BioclError, match="cannot decompress"):
        list(read_sequences(truncated, min_length_bp=1))
    bad_fastq = _write(tmp_path / "bad.fq", "@r1\nACGT\n+\nII\n", "plain")
    with pytest.raises(BioclError, match="not a valid FASTQ"):
        list(read_sequences(bad_fastq, min_length_bp=1))


def test_empty_header_is_an_error(tmp_path):
    path = _write(tmp_path / "x.fa", ">\nACGT\n", "plain")
    with pytest.raises(BioclError, match="empty id"):
        list(read_sequences(path, min_length_bp=1))


def test_reader_streams_records(tmp_path):
    # The first record arrives before the reader has seen the damaged record after it.
    path = _write(tmp_path / "x.fa", b">first\nACGTACGT\n>second\nAC##GT\n", "plain")
    reader = read_sequences(path, min_length_bp=1)
    assert isinstance(reader, types.GeneratorType)
    assert next(reader).id == "first"
    with pytest.raises(BioclError, match="'second'"):
        next(reader)


def test_reader_memory_does_not_grow_with_the_file(tmp_path):
    rng = np.random.default_rng(0)
    n_records, record_bp = 400, 5000
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    records = (SequenceRecord(f"r{i}", bases[rng.integers(0, 4, record_bp)].tobytes().decode(), record_bp)
               for i in range(n_records))
    path = write_fasta(tmp_path / "big.fa.gz", records)
    tracemalloc.start()
    n_bases = sum(record.length_bp for record in read_sequences(path))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n_bases == n_records * record_bp
    # The whole file is 2 MB of sequence; a streaming reader holds about one record.
    assert peak < n_bases / 8


def test_unknown_ambiguous_mode_is_rejected(tmp_path):
    path = _write(tmp_path / "x.fa", ">a\nACGT\n", "plain")
    with pytest.raises(ValueError, match="mask"):
        read_sequences(path, ambiguous="drop")


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
