"""Data quality of DNA input: the length and GC distributions of the sequences, and their counts.

What a reader checks before trusting a binning or a species embedding: are the sequences
as long as the protocol says, is the GC content in a plausible range, how much sequence
there is (total base pairs, N50). Both DNA pipelines report it as ``results["data_quality"]``
(``dna_species``) or in ``summary.json`` (``dna_binning``), in the shape
:mod:`biocl.report.quality` draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["gc_fraction", "n50_bp", "sequence_quality", "MAX_HISTOGRAM_VALUES"]

#: At most this many per-sequence values go into a histogram (evenly spaced over the input).
MAX_HISTOGRAM_VALUES = 5_000

_GC = np.zeros(256, dtype=bool)
_ACGT = np.zeros(256, dtype=bool)
for _base in b"GCgc":
    _GC[_base] = True
for _base in b"ACGTacgt":
    _ACGT[_base] = True


def _base_counts(sequence: str) -> tuple[int, int]:
    """(G + C, A + C + G + T) of one sequence, case-insensitive."""
    codes = np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)
    return int(_GC[codes].sum()), int(_ACGT[codes].sum())


def gc_fraction(sequence: str) -> float:
    """G+C over the unambiguous bases (A, C, G, T) of one sequence, in [0, 1]; NaN when it has none."""
    gc, n_bases = _base_counts(sequence)
    return gc / n_bases if n_bases else float("nan")


def n50_bp(lengths_bp: Sequence[int]) -> int:
    """The length of the sequence at which the longest-first cumulative length reaches half the total (bp)."""
    ordered = np.sort(np.asarray(lengths_bp, dtype=np.int64))[::-1]
    if ordered.size == 0:
        return 0
    reached = np.cumsum(ordered) >= ordered.sum() / 2
    return int(ordered[int(np.argmax(reached))])


def _evenly_spaced(values: np.ndarray, at_most: int) -> np.ndarray:
    if values.size <= at_most:
        return values
    return values[np.linspace(0, values.size - 1, at_most).round().astype(int)]


def sequence_quality(sequences: Sequence[str], *, what: str = "input sequences") -> dict[str, Any]:
    """Length and GC histograms and counts of ``sequences``, as ``results["data_quality"]``.

    Parameters
    ----------
    sequences : sequence of str
        The sequences as read (ambiguity codes masked to N count in the length, not in GC).
    what : str
        What the sequences are, for titles and captions (``"test contigs"``).

    Returns
    -------
    dict
        ``{"figures": [length histogram, GC histogram], "tables": [], "counts": {...}}``;
        counts are ``n_sequences``, ``total_bp``, ``n50_bp``, ``min_length_bp``,
        ``max_length_bp`` and ``gc_mean`` (base-pair weighted, in [0, 1]). Counts use every
        sequence; a histogram of more than :data:`MAX_HISTOGRAM_VALUES` sequences uses an
        evenly spaced subsample and its title says so.
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    bases = np.array([_base_counts(s) for s in sequences], dtype=np.float64).reshape(-1, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        gc = np.where(bases[:, 1] > 0, bases[:, 0] / bases[:, 1], np.nan)
    gc_mean = float(bases[:, 0].sum() / bases[:, 1].sum()) if bases[:, 1].sum() > 0 else float("nan")
    counts = {"n_sequences": int(lengths.size), "total_bp": int(lengths.sum()), "n50_bp": n50_bp(lengths),
              "min_length_bp": int(lengths.min()) if lengths.size else 0,
              "max_length_bp": int(lengths.max()) if lengths.size else 0,
              "gc_mean": round(gc_mean, 4) if np.isfinite(gc_mean) else None}
    shown = _evenly_spaced(np.arange(lengths.size), MAX_HISTOGRAM_VALUES)
    note = (f" (evenly spaced subsample of {shown.size} of {lengths.size})" if shown.size < lengths.size else
            f" ({lengths.size} sequences)")
    figures = [
        {"kind": "histogram", "title": f"Length of the {what}{note}", "values": lengths[shown].tolist(),
         "bins": 30, "xlabel": "length (bp)", "ylabel": "sequences"},
        {"kind": "histogram", "title": f"GC content of the {what}{note}",
         "values": [round(float(v), 5) for v in gc[shown] if np.isfinite(v)], "bins": 30,
         "xlabel": "GC fraction of the unambiguous bases (proportion, 0-1)", "ylabel": "sequences"},
    ]
    return {"figures": figures, "tables": [], "counts": counts}
