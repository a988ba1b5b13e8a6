"""Read coverage of contigs across samples: from BAM files (MetaBAT's depth) or from a depth table.

Contigs of one genome share its abundance in every sample, so coverage is the second
signal of metagenomic binning (MetaBAT2, VAMB, SemiBin2, COMEBin all read it). Two inputs:

* **BAM files** (coordinate-sorted, indexed or not; one per sample), read with pysam
  (``pip install 'biocl[bam]'``). Per contig and sample, the mean and variance of the
  per-base depth, computed as MetaBAT2's ``jgi_summarize_bam_contig_depths`` does by default:

  - secondary, supplementary, unmapped, QC-failed and duplicate alignments are skipped, and
    so are alignments with MAPQ below ``min_mapq`` (MetaBAT's ``--minMapQual``, default 0);
  - an alignment counts only when its identity, matches / (matches + mismatches +
    insertions + deletions), is at least ``min_identity`` (MetaBAT: 97 %); mismatches are
    read from ``=``/``X`` CIGAR operations when present, else from the ``NM`` tag (which
    counts mismatches, inserted and deleted bases), else taken as 0;
  - only aligned reference bases (CIGAR ``M``, ``=``, ``X``) add depth; deletions and
    skipped regions do not;
  - ``trim_bp`` bases at each contig end are left out (MetaBAT: one average read length,
    at most 75 bp), unless the contig is shorter than ``2 * trim_bp + 1``, when all of it counts;
  - depth is the per-base mean over the counted positions; the variance is the population
    variance of the per-base depth over the same positions.

  Memory is one contig's depth array at a time plus the O(contigs x samples) result.

* **Depth tables**, recognised from their header (:func:`read_depth_table`): MetaBAT2's
  ``jgi_summarize_bam_contig_depths`` output (``contigName contigLen totalAvgDepth`` then
  ``<sample>`` and ``<sample>-var`` per sample; CoverM ``-m metabat`` writes the same),
  VAMB's ``abundance.tsv`` (``contigname`` then one column per sample) and CoverM's
  ``contig`` output (``Contig`` then ``<sample> Mean`` and optionally ``<sample> Variance``).

:meth:`Coverage.aligned_to` puts the rows in the FASTA's order, and a contig the FASTA has
but the coverage lacks is a one-line error naming the first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from biocl.data.dna.fasta import open_text
from biocl.utils.errors import BioclError
from biocl.utils.imports import soft_import

__all__ = ["Coverage", "DepthSettings", "bam_depths", "read_depth_table", "DEPTH_TABLE_FORMATS",
           "contig_depth"]

#: The depth-table formats :func:`read_depth_table` recognises, and the header each needs.
DEPTH_TABLE_FORMATS = {
    "metabat": "contigName<TAB>contigLen<TAB>totalAvgDepth<TAB><sample><TAB><sample>-var ...",
    "vamb": "contigname<TAB><sample> ...",
    "coverm": "Contig<TAB><sample> Mean[<TAB><sample> Variance] ...",
}


@dataclass(frozen=True)
class DepthSettings:
    """How per-base depth is counted from alignments (MetaBAT2's defaults).

    Parameters
    ----------
    trim_bp : int
        Bases left out at each contig end (bp); MetaBAT: 75.
    min_identity : float
        Smallest alignment identity counted, in [0, 1]; MetaBAT: 0.97.
    min_mapq : int
        Smallest mapping quality counted; MetaBAT: 0.
    """

    trim_bp: int = 75
    min_identity: float = 0.97
    min_mapq: int = 0

    def as_dict(self) -> dict:
        """The settings as plain JSON-ready values."""
        return {"trim_bp": self.trim_bp, "min_identity": self.min_identity, "min_mapq": self.min_mapq}


@dataclass
class Coverage:
    """Mean depth (and its variance) of each contig in each sample.

    Attributes
    ----------
    contigs : list of str
        Contig ids, one per row.
    samples : list of str
        Sample names, one per column.
    depth : ndarray of float32, shape (n_contigs, n_samples)
        Mean per-base depth (reads per base).
    variance : ndarray of float32, shape (n_contigs, n_samples) | None
        Variance of the per-base depth along the contig; None when the source has none
        (VAMB's table).
    source : str
        ``"bam"``, ``"metabat"``, ``"vamb"`` or ``"coverm"``.
    """

    contigs: list[str]
    samples: list[str]
    depth: np.ndarray
    variance: np.ndarray | None
    source: str

    def aligned_to(self, contig_ids: Sequence[str], *, path: str | Path | None = None) -> Coverage:
        """The rows of ``contig_ids``, in that order.

        Raises
        ------
        BioclError
            When a contig of ``contig_ids`` has no row; the message names the first missing one.
        """
        index = {c: i for i, c in enumerate(self.contigs)}
        rows = []
        for contig in contig_ids:
            row = index.get(contig)
            if row is None:
                raise BioclError(f"contig {contig!r} of the FASTA has no coverage ({len(self.contigs)} contigs "
                                 f"in the coverage)", path=path,
                                 hint="map the reads to these very contigs, or give the depth table made from them")
            rows.append(row)
        rows_array = np.asarray(rows, dtype=np.int64)
        return Coverage(list(contig_ids), list(self.samples), self.depth[rows_array],
                        None if self.variance is None else self.variance[rows_array], self.source)


def contig_depth(starts_ends: np.ndarray, length_bp: int, trim_bp: int) -> tuple[float, float]:
    """Mean and variance of per-base depth along one contig from its aligned blocks.

    Parameters
    ----------
    starts_ends : ndarray of int, shape (n_blocks, 2)
        Aligned reference blocks, 0-based half-open ``[start, end)``.
    length_bp : int
        Contig length (bp).
    trim_bp : int
        Bases left out at each end, unless the contig is shorter than ``2 * trim_bp + 1``.

    Returns
    -------
    mean, variance : float
        Over the counted positions (population variance).
    """
    diff = np.zeros(length_bp + 1, dtype=np.int64)
    if len(starts_ends):
        blocks = np.asarray(starts_ends, dtype=np.int64)
        np.add.at(diff, np.clip(blocks[:, 0], 0, length_bp), 1)
        np.add.at(diff, np.clip(blocks[:, 1], 0, length_bp), -1)
    depth = np.cumsum(diff[:-1])
    if length_bp > 2 * trim_bp:
        depth = depth[trim_bp:length_bp - trim_bp]
    if depth.size == 0:
        return 0.0, 0.0
    return float(depth.mean()), float(depth.var())


def _identity(read, cigar_stats) -> float:
    """matches / (matches + mismatches + insertions + deletions) of one alignment."""
    counts = cigar_stats
    aligned, insertions, deletions, equal, diff = counts[0], counts[1], counts[2], counts[7], counts[8]
    if equal or diff:
        matches, mismatches = equal + aligned, diff
    else:
        edit = read.get_tag("NM") if read.has_tag("NM") else insertions + deletions
        mismatches = max(0, edit - insertions - deletions)
        matches = aligned - mismatches
    denominator = matches + mismatches + insertions + deletions
    return matches / denominator if denominator > 0 else 0.0


def _open_bam(path: Path, threads: int):
    pysam = soft_import("pysam", "reading BAM files", path=path)
    if not path.is_file():
        raise BioclError("BAM file not found", path=path)
    try:
        return pysam.AlignmentFile(str(path), "rb", threads=max(1, threads), check_sq=False)
    except (ValueError, OSError) as exc:
        raise BioclError(f"cannot read the BAM file ({exc})", path=path,
                         hint="give a coordinate-sorted BAM (samtools sort)") from None


def _sample_depths(path: Path, lengths: dict[str, int], settings: DepthSettings,
                   threads: int) -> tuple[dict[str, tuple[float, float]], int]:
    """contig -> (mean, variance) for one BAM, streamed contig by contig; and the alignments counted."""
    _SKIP = 0x4 | 0x100 | 0x200 | 0x400 | 0x800  # unmapped, secondary, QC fail, duplicate, supplementary
    with _open_bam(path, threads) as bam:
        names = list(bam.references)
        if not names:
            raise BioclError("the BAM file has no reference sequences in its header", path=path,
                             hint="map the reads to the contigs (minimap2 -a CONTIGS reads | samtools sort)")
        missing = next((c for c in lengths if c not in set(names)), None)
        if missing is not None:
            raise BioclError(f"contig {missing!r} of the FASTA is not a reference of the BAM file", path=path,
                             hint="map the reads to these very contigs")
        for name, bam_length in zip(names, bam.lengths):
            if name in lengths and lengths[name] != bam_length:
                raise BioclError(f"contig {name!r} is {lengths[name]} bp in the FASTA but {bam_length} bp in the "
                                 f"BAM header", path=path, hint="map the reads to these very contigs")
        results: dict[str, tuple[float, float]] = {}
        blocks: list[tuple[int, int]] = []
        current, n_records, n_counted = -1, 0, 0
        done: set[int] = set()

        def flush() -> None:
            if current >= 0 and names[current] in lengths:
                results[names[current]] = contig_depth(np.asarray(blocks).reshape(-1, 2),
                                                       lengths[names[current]], settings.trim_bp)
            done.add(current)

        for read in bam.fetch(until_eof=True):
            n_records += 1
            if read.flag & _SKIP or read.reference_id < 0:
                continue
            if read.reference_id != current:
                if read.reference_id in done:
                    raise BioclError(f"the BAM file is not coordinate-sorted (contig {read.reference_name!r} "
                                     f"appears twice)", path=path, hint="sort it: samtools sort -o OUT.bam IN.bam")
                flush()
                current, blocks = read.reference_id, []
            if read.mapping_quality < settings.min_mapq:
                continue
            if _identity(read, read.get_cigar_stats()[0]) < settings.min_identity:
                continue
            blocks.extend(read.get_blocks())
            n_counted += 1
        flush()
    if n_records == 0:
        raise BioclError("the BAM file holds no alignments", path=path,
                         hint="check that the reads were mapped (samtools view -c FILE.bam)")
    for contig, length in lengths.items():
        results.setdefault(contig, contig_depth(np.empty((0, 2)), length, settings.trim_bp))
    return results, n_counted


def bam_depths(bams: Sequence[str | Path], contigs: dict[str, int], *, settings: DepthSettings = DepthSettings(),
               threads: int = 1) -> Coverage:
    """MetaBAT-style mean depth and variance of each contig in each BAM file (one sample per file).

    Parameters
    ----------
    bams : sequence of str | Path
        Coordinate-sorted BAM files, one per sample (an index is not needed).
    contigs : dict of str to int
        Contig id -> length (bp), in the order of the rows to return.
    settings : DepthSettings
        Edge trimming, identity and MAPQ filters (MetaBAT2's defaults).
    threads : int
        Decompression threads pysam uses per file.

    Returns
    -------
    coverage : Coverage
        ``source="bam"``; sample names are the file names without ``.bam``.

    Raises
    ------
    BioclError
        pysam missing, an unreadable or unsorted BAM, one without alignments, or a FASTA
        contig that the BAM header lacks (or gives another length).
    """
    if not bams:
        raise BioclError("no BAM file given", hint="pass --bam once per sample")
    order = list(contigs)
    depth = np.zeros((len(order), len(bams)), dtype=np.float32)
    variance = np.zeros_like(depth)
    samples = []
    for column, bam in enumerate(bams):
        path = Path(bam)
        results, _ = _sample_depths(path, contigs, settings, threads)
        depth[:, column] = [results[c][0] for c in order]
        variance[:, column] = [results[c][1] for c in order]
        samples.append(path.name.removesuffix(".bam"))
    return Coverage(order, samples, depth, variance, "bam")


def _table_format(header: list[str]) -> str | None:
    if header[:3] == ["contigName", "contigLen", "totalAvgDepth"] and len(header) > 3:
        return "metabat"
    if header[0].lower() == "contigname" and len(header) > 1:
        return "vamb"
    if header[0] == "Contig" and any(h.endswith(" Mean") for h in header[1:]):
        return "coverm"
    return None


def _columns(fmt: str, header: list[str]) -> tuple[list[str], list[int], list[int] | None]:
    """Sample names, the depth columns and the variance columns (or None) of a table."""
    if fmt == "metabat":
        rest = header[3:]
        if len(rest) % 2:
            raise ValueError("MetaBAT tables pair every sample column with its '-var' column")
        samples = rest[0::2]
        if any(v != f"{s}-var" for s, v in zip(samples, rest[1::2])):
            raise ValueError("MetaBAT tables pair every sample column with its '-var' column")
        return samples, [3 + 2 * i for i in range(len(samples))], [4 + 2 * i for i in range(len(samples))]
    if fmt == "vamb":
        return header[1:], list(range(1, len(header))), None
    means = [i for i, h in enumerate(header) if h.endswith(" Mean") and not h.endswith(" Trimmed Mean")]
    samples = [header[i].removesuffix(" Mean") for i in means]
    variances = [header.index(f"{s} Variance") if f"{s} Variance" in header else -1 for s in samples]
    return samples, means, variances if all(v >= 0 for v in variances) else None


def read_depth_table(path: str | Path) -> Coverage:
    """Read a depth table: MetaBAT2's, VAMB's ``abundance.tsv`` or CoverM's ``contig`` output.

    The format is recognised from the header line (see :data:`DEPTH_TABLE_FORMATS`).
    Plain or compressed; tab-separated.

    Parameters
    ----------
    path : str | Path
        The table.

    Returns
    -------
    coverage : Coverage

    Raises
    ------
    BioclError
        An unrecognised header (the message names the expected columns), a row with the
        wrong number of fields, a value that is not a non-negative number, a contig listed
        twice, or a table without rows.
    """
    path = Path(path)
    if not path.is_file():
        raise BioclError("depth table not found", path=path)
    expected = "; ".join(f"{name}: {columns}" for name, columns in DEPTH_TABLE_FORMATS.items())
    with open_text(path) as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        fmt = _table_format(header)
        if fmt is None:
            raise BioclError(f"unrecognised depth-table header {'<TAB>'.join(header)[:60]!r}", path=path,
                             hint=f"expected the columns of one of {expected}")
        try:
            samples, depth_cols, var_cols = _columns(fmt, header)
        except ValueError as exc:
            raise BioclError(str(exc), path=path, hint=f"expected {DEPTH_TABLE_FORMATS[fmt]}") from None
        contigs: list[str] = []
        depth_rows: list[list[float]] = []
        var_rows: list[list[float]] = []
        for line_no, line in enumerate(handle, start=2):
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) == 1 and not fields[0]:
                continue
            if len(fields) != len(header):
                raise BioclError(f"line {line_no} has {len(fields)} fields, the header {len(header)}", path=path,
                                 hint=f"expected {DEPTH_TABLE_FORMATS[fmt]}")
            try:
                depth_rows.append([float(fields[c]) for c in depth_cols])
                if var_cols is not None:
                    var_rows.append([float(fields[c]) for c in var_cols])
            except ValueError:
                raise BioclError(f"line {line_no}: a depth is not a number", path=path,
                                 hint=f"expected {DEPTH_TABLE_FORMATS[fmt]}") from None
            contigs.append(fields[0])
    if not contigs:
        raise BioclError("the depth table has a header but no contigs", path=path)
    if len(set(contigs)) != len(contigs):
        seen: set[str] = set()
        twice = next(c for c in contigs if c in seen or seen.add(c))
        raise BioclError(f"contig {twice!r} is listed twice", path=path)
    depth = np.asarray(depth_rows, dtype=np.float32)
    variance = np.asarray(var_rows, dtype=np.float32) if var_cols is not None else None
    if not np.isfinite(depth).all() or (depth < 0).any():
        raise BioclError("depths must be finite and non-negative", path=path)
    return Coverage(contigs, samples, depth, variance, fmt)
