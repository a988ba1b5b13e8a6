"""DNA sequences in and out: FASTA/FASTQ readers and writers, gold standards, bioboxes.

The readers stream (one record in memory at a time), sniff the compression (gzip, bzip2)
from magic bytes and the format (FASTA, FASTQ) from the first non-empty character, and
count every sequence they drop so a run's flow table can show it. Every problem a user
can cause is a :class:`~biocl.utils.errors.BioclError` naming the file and, where there is one,
the record.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from biocl.data.dna.streams import open_text
from biocl.utils.errors import BioclError
from biocl.utils.io import atomic_path

__all__ = [
    "SequenceRecord",
    "ReadStats",
    "read_sequences",
    "read_gold_standard",
    "write_bioboxes",
    "write_fasta",
    "open_text",
    "IUPAC_CODES",
]

#: Every IUPAC nucleotide code the readers accept (upper case); U is read as T.
IUPAC_CODES = "ACGTURYSWKMBDHVN"
_INVALID = re.compile(f"[^{IUPAC_CODES}]")
_AMBIGUOUS = re.compile("[^ACGT]")
_FASTA_LINE_BP = 80


@dataclass(frozen=True)
class SequenceRecord:
    """One nucleotide sequence as the readers hand it on.

    Attributes
    ----------
    id : str
        The first word of the FASTA/FASTQ header; unique within a file.
    seq : str
        Upper case over ``ACGTN`` (other IUPAC codes masked to ``N``, ``U`` read as ``T``).
    length_bp : int
        ``len(seq)`` in base pairs.
    """

    id: str
    seq: str
    length_bp: int


@dataclass
class ReadStats:
    """Counts of what a reader kept and dropped, for a run's flow and exclusion tables.

    Attributes
    ----------
    n_records : int
        Records read from the file (sequences).
    n_kept : int
        Records handed on (sequences).
    n_too_short : int
        Records shorter than ``min_length_bp`` (sequences), dropped first.
    n_ambiguous_skipped : int
        Records with IUPAC ambiguity codes dropped under ``ambiguous="skip"`` (sequences).
    n_ambiguous_bases_masked : int
        Non-ACGT bases written as ``N`` in kept records under ``ambiguous="mask"`` (bp).
    n_lowercase : int
        Kept records that held lower-case (soft-masked) bases, upper-cased (sequences).
    bases_kept : int
        Total length of the kept records (bp).
    min_length_bp : int
        The minimum length applied (bp).
    """

    n_records: int = 0
    n_kept: int = 0
    n_too_short: int = 0
    n_ambiguous_skipped: int = 0
    n_ambiguous_bases_masked: int = 0
    n_lowercase: int = 0
    bases_kept: int = 0
    min_length_bp: int = 0

    def as_flow(self) -> list[dict[str, Any]]:
        """The flow stages ``[{"stage", "count", "unit"}]`` in reading order."""
        return [
            {"stage": "sequences read", "count": self.n_records, "unit": "sequences"},
            {"stage": f"at least {self.min_length_bp} bp", "count": self.n_records - self.n_too_short,
             "unit": "sequences"},
            {"stage": "sequences kept", "count": self.n_kept, "unit": "sequences"},
            {"stage": "bases kept", "count": self.bases_kept, "unit": "bp"},
        ]

    def as_exclusions(self) -> list[dict[str, Any]]:
        """The reasons sequences (or bases) were dropped or changed, ``[{"reason", "count", "unit"}]``."""
        return [
            {"reason": f"shorter than {self.min_length_bp} bp", "count": self.n_too_short, "unit": "sequences"},
            {"reason": "IUPAC ambiguity codes (record skipped)", "count": self.n_ambiguous_skipped,
             "unit": "sequences"},
            {"reason": "IUPAC ambiguity codes masked to N", "count": self.n_ambiguous_bases_masked, "unit": "bp"},
        ]


_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")


def _decompress_error(path: Path, exc: Exception) -> BioclError:
    return BioclError(f"cannot decompress the file ({exc})", path=path,
                      hint="the gzip/bzip2 file is damaged or truncated; download it again")


def _open_records(path: Path) -> tuple[IO[str], _Lines, Literal["fasta", "fastq"]]:
    """Open ``path`` once and sniff its format: the handle, its lines (first one included) and the format."""
    handle = open_text(path)
    try:
        for line in iter(handle.readline, ""):
            stripped = line.lstrip()
            if stripped:
                first = stripped[0]
                break
        else:
            raise BioclError("the file is empty (no FASTA or FASTQ record)", path=path,
                             hint="give a FASTA (>id) or FASTQ (@id) file with at least one sequence")
        if first not in ">@":
            shown = first if first.isprintable() and not 0xDC80 <= ord(first) <= 0xDCFF else "\ufffd"
            raise BioclError(f"not a FASTA or FASTQ file (it starts with {shown!r})", path=path,
                             hint="FASTA records start with '>', FASTQ records with '@'")
    except (OSError, EOFError, zlib.error) as exc:
        handle.close()
        raise _decompress_error(path, exc) from exc
    except BaseException:
        handle.close()
        raise
    return handle, _Lines(line, handle), "fasta" if first == ">" else "fastq"


class _Lines:
    """A text handle whose first line was already read (to sniff the format) and is handed out again."""

    def __init__(self, first: str, handle: IO[str]):
        self._first: str | None = first
        self._handle = handle

    def read(self, size: int = -1) -> str:
        if size == 0:
            return ""
        head, self._first = self._first or "", None
        return head + self._handle.read()

    def readline(self) -> str:
        if self._first is not None:
            line, self._first = self._first, None
            return line
        return self._handle.readline()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def _parse_records(path: Path, handle: IO[str], lines: _Lines, fmt: str) -> Iterator[tuple[str, str]]:
    from Bio.SeqIO.FastaIO import SimpleFastaParser
    from Bio.SeqIO.QualityIO import FastqGeneralIterator

    parser = SimpleFastaParser if fmt == "fasta" else FastqGeneralIterator
    with handle:
        try:
            for item in parser(lines):
                yield item[0], item[1]
        except (OSError, EOFError, zlib.error) as exc:
            raise _decompress_error(path, exc) from exc
        except ValueError as exc:
            raise BioclError(f"not a valid {fmt.upper()} file ({exc})", path=path,
                             hint=f"check the file is complete {fmt.upper()}") from exc


def _record_id(title: str, number: int, path: Path) -> str:
    """The id of a header: its first word, split on ASCII white space only, as UTF-8 text."""
    words = _ASCII_SPACE.split(title.strip(" \t\n\r\f\v"), maxsplit=1)
    if not words or not words[0]:
        raise BioclError(f"record {number} has an empty id", path=path,
                         hint="every header needs an id after '>' or '@'")
    record_id = words[0]
    bad = next((i for i, c in enumerate(record_id) if 0xDC80 <= ord(c) <= 0xDCFF), None)
    if bad is not None:
        raise BioclError(f"record {number}: the id is not UTF-8 text (byte 0x{ord(record_id[bad]) - 0xDC00:02X} "
                         f"at character {bad + 1})", path=path,
                         hint="convert the headers to UTF-8 (e.g. iconv -f latin1 -t utf-8)")
    return record_id


def read_sequences(path: str | Path, *, min_length_bp: int = 2500, ambiguous: Literal["mask", "skip"] = "mask",
                   stats: ReadStats | None = None) -> Iterator[SequenceRecord]:
    """Stream the sequences of a FASTA or FASTQ file, plain, gzip or bzip2.

    Records are filtered in this order: shorter than ``min_length_bp`` (counted in
    ``n_too_short``), then ambiguity codes (``"skip"``: counted in ``n_ambiguous_skipped``).
    The iterator is lazy: errors about a record are raised when it is reached.

    Parameters
    ----------
    path : str | Path
        FASTA (``>id description``) or FASTQ (``@id``) file; format and compression are sniffed.
    min_length_bp : int
        Records shorter than this many base pairs are dropped and counted (the paper: 2,500 bp).
    ambiguous : {"mask", "skip"}
        IUPAC ambiguity codes (N, R, Y, ...): ``"mask"`` writes them as ``N`` and counts the
        bases; ``"skip"`` drops the whole record and counts it.
    stats : ReadStats | None
        Filled in place as records are read (pass one to get the flow table).

    Yields
    ------
    record : SequenceRecord
        Upper case over ``ACGTN``.

    Raises
    ------
    BioclError
        Missing, empty, damaged, not FASTA/FASTQ, a character outside the IUPAC codes, an empty
        or duplicate record id, or no record left after filtering.
    """
    if ambiguous not in ("mask", "skip"):
        raise ValueError(f"ambiguous must be 'mask' or 'skip', not {ambiguous!r}")
    path = Path(path)
    stats = ReadStats() if stats is None else stats
    stats.min_length_bp = int(min_length_bp)
    handle, lines, fmt = _open_records(path)
    return _read_records(path, _parse_records(path, handle, lines, fmt), fmt, int(min_length_bp), ambiguous, stats)


def _read_records(path: Path, parsed: Iterator[tuple[str, str]], fmt: str, min_length_bp: int, ambiguous: str,
                  stats: ReadStats) -> Iterator[SequenceRecord]:
    seen: set[str] = set()
    for title, raw in parsed:
        record_id = _record_id(title, stats.n_records + 1, path)
        if record_id in seen:
            raise BioclError(f"duplicate sequence id {_shown(record_id)}", path=path,
                             hint="outputs are keyed by id; make the ids unique (e.g. seqkit rename)")
        seen.add(record_id)
        stats.n_records += 1
        seq = raw.upper()
        has_lowercase = seq != raw
        bad = _INVALID.search(seq)
        if bad is not None:
            raise BioclError(f"record {_shown(record_id)} has {bad.group()!r} at position {bad.start() + 1}, "
                             "which is not an IUPAC nucleotide code", path=path,
                             hint="the file is damaged or not nucleotide sequence")
        if len(seq) < min_length_bp:
            stats.n_too_short += 1
            continue
        if "U" in seq:
            seq = seq.replace("U", "T")
        n_ambiguous = len(seq) - sum(seq.count(base) for base in "ACGT")
        if n_ambiguous:
            if ambiguous == "skip":
                stats.n_ambiguous_skipped += 1
                continue
            seq = _AMBIGUOUS.sub("N", seq)
            stats.n_ambiguous_bases_masked += n_ambiguous
        stats.n_lowercase += int(has_lowercase)
        stats.n_kept += 1
        stats.bases_kept += len(seq)
        yield SequenceRecord(record_id, seq, len(seq))
    if stats.n_records == 0:
        raise BioclError(f"no {fmt.upper()} record in the file", path=path,
                         hint="give a file with at least one sequence")
    if stats.n_kept == 0:
        raise BioclError(
            f"no sequence left: {stats.n_records} read, {stats.n_too_short} shorter than {min_length_bp} bp, "
            f"{stats.n_ambiguous_skipped} skipped for ambiguity codes", path=path,
            hint="lower the minimum length or use ambiguous='mask'")


_GOLD_ID_COLUMNS = {"sequence_id", "sequenceid", "seqid", "seq_id", "contig", "contig_id", "contigname", "id"}


def read_gold_standard(path: str | Path) -> dict[str, str]:
    """Read a gold standard: sequence id -> genome or species label.

    Two formats are recognised: CAMI bioboxes binning files (``@Version``/``@SampleID``
    headers, a ``@@SEQUENCEID\\tBINID`` column header, extra columns such as ``TAXID`` or
    ``_LENGTH`` tolerated; ``TAXID`` is used when there is no ``BINID``), and a plain
    tab-separated ``sequence_id\\tlabel`` file with an optional header line. Lines starting
    with ``#`` are comments. Plain or compressed.

    Parameters
    ----------
    path : str | Path
        The gold-standard file.

    Returns
    -------
    labels : dict of str to str
        In file order.

    Raises
    ------
    BioclError
        Empty file, a line without a label, or the same id with two different labels.
    """
    path = Path(path)
    labels: dict[str, str] = {}
    id_col, label_col = 0, 1
    first_data_line = True
    try:
        with open_text(path) as handle:
            for line_no, line in enumerate(handle, start=1):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                if line.startswith("@@"):
                    columns = [c.strip().upper() for c in line[2:].split("\t")]
                    if "SEQUENCEID" not in columns or not ({"BINID", "TAXID"} & set(columns)):
                        raise BioclError(f"line {line_no}: the bioboxes header needs SEQUENCEID and BINID columns",
                                         path=path, hint="write '@@SEQUENCEID<TAB>BINID'")
                    id_col = columns.index("SEQUENCEID")
                    label_col = columns.index("BINID" if "BINID" in columns else "TAXID")
                    first_data_line = False
                    continue
                if line.startswith("@"):
                    continue
                fields = [f.strip() for f in line.split("\t")]
                if first_data_line:
                    first_data_line = False
                    if fields[0].lower() in _GOLD_ID_COLUMNS:
                        continue
                if len(fields) <= max(id_col, label_col) or not fields[id_col] or not fields[label_col]:
                    raise BioclError(f"line {line_no} has no label", path=path,
                                     hint="each line needs 'sequence_id<TAB>label'")
                seq_id, label = fields[id_col], fields[label_col]
                if labels.setdefault(seq_id, label) != label:
                    raise BioclError(f"sequence {_shown(seq_id)} has two labels ({_shown(labels[seq_id])} and "
                                     f"{_shown(label)})",
                                     path=path, hint="give one label per sequence")
    except (OSError, EOFError, zlib.error) as exc:
        raise BioclError(f"cannot decompress the file ({exc})", path=path,
                         hint="the gzip/bzip2 file is damaged or truncated; download it again") from None
    if not labels:
        raise BioclError("the gold standard is empty", path=path,
                         hint="give 'sequence_id<TAB>label' lines or a CAMI bioboxes binning file")
    return labels


def write_bioboxes(path: str | Path, assignments: Mapping[str, str], *, sample_id: str = "biocl",
                   extra_columns: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write a CAMI bioboxes binning file (``@@SEQUENCEID\\tBINID``) atomically.

    Parameters
    ----------
    path : str | Path
        Output file (written through a temporary file and renamed).
    assignments : mapping of str to str
        Sequence id -> bin (or genome) id, in the order to write. Leave unbinned sequences
        out, as CAMI tools expect.
    sample_id : str
        The ``@SampleID`` header.
    extra_columns : mapping of column name to (mapping of id to value) | None
        Additional columns (e.g. ``_LENGTH``), written after ``BINID``.

    Returns
    -------
    path : Path
    """
    extra_columns = dict(extra_columns or {})
    header = "\t".join(["@@SEQUENCEID", "BINID", *extra_columns])
    lines = ["@Version:0.9.1", f"@SampleID:{sample_id}", "", header]
    for seq_id, bin_id in assignments.items():
        values = [str(column[seq_id]) for column in extra_columns.values()]
        lines.append("\t".join([seq_id, str(bin_id), *values]))
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def write_fasta(path: str | Path, records: Iterable[SequenceRecord]) -> Path:
    """Write records as FASTA (80 bp lines) atomically; gzip when ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str | Path
        Output file.
    records : iterable of SequenceRecord
        Written in order; consumed lazily, so a generator is never held in memory at once.

    Returns
    -------
    path : Path
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(tmp, "wt", encoding="utf-8") as handle:
            for record in records:
                handle.write(f">{record.id}\n")
                for start in range(0, len(record.seq), _FASTA_LINE_BP):
                    handle.write(record.seq[start:start + _FASTA_LINE_BP] + "\n")
    return path


def _shown(text: str, limit: int = 60) -> str:
    """An id or label as a message shows it: escaped (``repr``) and cut to ``limit`` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "...")
