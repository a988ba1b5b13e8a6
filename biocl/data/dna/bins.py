"""A binning's output folder: written by `biocl dna bin`, read back by `biocl dna evaluate`.

Layout::

    bins/bin.<i>.fa     one FASTA per bin (bins numbered from 1, largest first) holding at least
                        ``min_fasta_bp`` base pairs (VAMB's and SemiBin2's convention)
    clusters.tsv        sequence_id <tab> bin <tab> length_bp (``unbinned`` for the rest), every
                        input sequence once, every bin whatever its size
    bins.binning        CAMI bioboxes file of the binned sequences
    unbinned.fa         the sequences in no bin (long enough but unassigned, or too short)
    unbinned.tsv        sequence_id <tab> length_bp <tab> reason
    summary.json        counts, threshold, settings (written by the binning pipeline)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from biocl.data.dna.fasta import read_gold_standard, read_sequences, write_bioboxes, write_fasta
from biocl.utils.errors import BioclError
from biocl.utils.io import atomic_path

__all__ = ["UNBINNED", "write_bins", "read_bins", "read_bin_lengths", "is_bins_folder", "BINS_FOLDER_NAMES"]

#: Everything a binning folder holds; a folder of only these may be replaced by a new binning.
BINS_FOLDER_NAMES = frozenset({"bins", "clusters.tsv", "bins.binning", "unbinned.fa", "unbinned.tsv", "summary.json"})


def is_bins_folder(path: Path) -> bool:
    """Whether ``path`` holds an earlier ``biocl dna bin`` result and nothing else (so it may be replaced)."""
    names = {p.name for p in Path(path).iterdir()}
    return "clusters.tsv" in names and names <= BINS_FOLDER_NAMES

#: The bin name of a sequence in no bin.
UNBINNED = "unbinned"


def write_bins(out_dir: str | Path, records: Sequence, bins: np.ndarray, reasons: Sequence[str | None], *,
               min_fasta_bp: int = 0) -> dict:
    """Write the binning outputs (see the module docstring); every record appears exactly once.

    Parameters
    ----------
    out_dir : str | Path
        Output folder (created).
    records : sequence of SequenceRecord
        Every input record.
    bins : ndarray of int, shape (len(records),)
        Bin of each record, -1 when unbinned.
    reasons : sequence of str | None
        Why each unbinned record is unbinned (ignored for binned ones).
    min_fasta_bp : int
        A bin's FASTA is written only when the bin holds at least this many base pairs.

    Returns
    -------
    dict
        ``{"n_bins", "n_binned", "n_unbinned", "bin_sizes", "n_bin_fastas", "paths"}``.
    """
    out_dir = Path(out_dir)
    bins_dir = out_dir / "bins"
    bins_dir.mkdir(parents=True, exist_ok=True)
    for stale in bins_dir.glob("bin.*.fa"):
        stale.unlink()
    # Bins are renumbered 1.. by size (largest first) so names are stable and readable.
    sizes = Counter(int(b) for b in bins if b >= 0)
    order = sorted(sizes, key=lambda b: (-sizes[b], b))
    names = {old: f"bin.{new}" for new, old in enumerate(order, start=1)}
    assignment = {r.id: names[int(b)] if b >= 0 else UNBINNED for r, b in zip(records, bins)}
    bin_bp = Counter()
    for r, b in zip(records, bins):
        if b >= 0:
            bin_bp[int(b)] += r.length_bp
    written = [old for old in order if bin_bp[old] >= min_fasta_bp]
    for old in written:
        write_fasta(bins_dir / f"{names[old]}.fa", [r for r, b in zip(records, bins) if b == old])
    unbinned = [(r, reason) for r, b, reason in zip(records, bins, reasons) if b < 0]
    write_fasta(out_dir / "unbinned.fa", [r for r, _ in unbinned])
    with atomic_path(out_dir / "clusters.tsv") as tmp:
        tmp.write_text("sequence_id\tbin\tlength_bp\n"
                       + "".join(f"{r.id}\t{assignment[r.id]}\t{r.length_bp}\n" for r in records), encoding="utf-8")
    with atomic_path(out_dir / "unbinned.tsv") as tmp:
        tmp.write_text("sequence_id\tlength_bp\treason\n"
                       + "".join(f"{r.id}\t{r.length_bp}\t{reason}\n" for r, reason in unbinned), encoding="utf-8")
    write_bioboxes(out_dir / "bins.binning", {i: b for i, b in assignment.items() if b != UNBINNED})
    return {"n_bins": len(order), "n_binned": len(records) - len(unbinned), "n_unbinned": len(unbinned),
            "bin_sizes": [sizes[b] for b in order], "n_bin_fastas": len(written),
            "paths": {"bins": str(bins_dir), "clusters": str(out_dir / "clusters.tsv"),
                      "bioboxes": str(out_dir / "bins.binning"), "unbinned": str(out_dir / "unbinned.fa")}}


def read_bins(path: str | Path) -> dict[str, str]:
    """Sequence id -> bin from a ``biocl dna bin`` folder, a ``clusters.tsv`` or a bioboxes file.

    Unbinned sequences (``clusters.tsv`` lists them) map to :data:`UNBINNED`.
    """
    path = Path(path)
    if path.is_dir():
        for name in ("clusters.tsv", "bins.binning"):
            if (path / name).is_file():
                return read_bins(path / name)
        raise BioclError("no clusters.tsv or bins.binning in the bins folder", path=path,
                         hint="give the --out folder of `biocl dna bin` or a bins file")
    if not path.is_file():
        raise BioclError("bins file not found", path=path)
    return read_gold_standard(path)


def read_bin_lengths(folder: str | Path) -> dict[str, int] | None:
    """Sequence id -> length (bp) of every sequence in a bins folder; None when it records none.

    Read from ``clusters.tsv``'s ``length_bp`` column when present (it lists every sequence,
    bins too small for a FASTA included), else from the folder's FASTA files.
    """
    folder = Path(folder)
    clusters = folder / "clusters.tsv"
    if clusters.is_file():
        rows = [line.split("\t") for line in clusters.read_text().splitlines()]
        if rows and rows[0][:3] == ["sequence_id", "bin", "length_bp"]:
            try:
                return {row[0]: int(row[2]) for row in rows[1:] if len(row) >= 3} or None
            except ValueError:
                raise BioclError("clusters.tsv has a length that is not a whole number", path=clusters) from None
    files = sorted((folder / "bins").glob("*.fa")) + [folder / "unbinned.fa"]
    lengths: dict[str, int] = {}
    for fasta in files:
        if fasta.is_file() and fasta.stat().st_size > 0:
            lengths.update((r.id, r.length_bp) for r in read_sequences(fasta, min_length_bp=0))
    return lengths or None
