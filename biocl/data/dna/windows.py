"""Cutting DNA sequences: fixed windows, reverse complements, and positive pairs for training.

DNABERT-S (Zhou et al., arXiv 2402.08777) embeds 10 kb windows and learns from pairs of
non-overlapping segments of the same genome; :func:`sample_positive_pairs` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from biocl.utils.errors import BioclError

__all__ = ["split_windows", "reverse_complement", "sample_positive_pairs"]

_COMPLEMENT = str.maketrans("ACGTURYSWKMBDHVNacgturyswkmbdhvn", "TGCAAYRSWMKVHDBNtgcaayrswmkvhdbn")


def split_windows(seq: str, window_bp: int = 10_000, min_window_bp: int | None = None) -> list[str]:
    """Cut a sequence into consecutive, non-overlapping windows.

    Parameters
    ----------
    seq : str
        The sequence.
    window_bp : int
        Window length in base pairs (the paper embeds 10 kb).
    min_window_bp : int | None
        A trailing remainder shorter than this is dropped (bp). ``None`` means a quarter of
        ``window_bp`` (2,500 bp for 10 kb, the paper's minimum contig length). A sequence
        no longer than ``window_bp`` is always returned whole, however short.

    Returns
    -------
    windows : list of str
        At least one window for a non-empty sequence.
    """
    if window_bp <= 0:
        raise ValueError(f"window_bp must be positive, not {window_bp}")
    min_window_bp = window_bp // 4 if min_window_bp is None else min_window_bp
    if len(seq) <= window_bp:
        return [seq] if seq else []
    windows = [seq[start:start + window_bp] for start in range(0, len(seq), window_bp)]
    if len(windows[-1]) < min_window_bp:
        windows.pop()
    return windows


def reverse_complement(seq: str) -> str:
    """Reverse complement of a nucleotide sequence (IUPAC codes complemented, case kept)."""
    return seq.translate(_COMPLEMENT)[::-1]


def sample_positive_pairs(genomes: Mapping[str, Sequence[str]], n_pairs: int, segment_bp: int,
                          rng: np.random.Generator, *, min_segment_bp: int | None = None,
                          ) -> list[tuple[str, str, str]]:
    """Draw positive pairs: two non-overlapping segments of the same genome (the paper's rule).

    Each pair picks a genome uniformly, then one of its sequences (chromosome or contig)
    with probability proportional to length, then two non-overlapping segments of that
    sequence (start positions drawn uniformly, no placement excluded), in random order. A sequence shorter than
    ``2 * segment_bp`` gives segments of half its length; a sequence shorter than
    ``2 * min_segment_bp`` is never drawn, and a genome with no such sequence is skipped.

    Parameters
    ----------
    genomes : mapping of str to sequence of str
        Genome label -> its sequences.
    n_pairs : int
        Pairs to draw.
    segment_bp : int
        Segment length in base pairs (the paper: 10 kb).
    rng : numpy.random.Generator
        The only source of randomness.
    min_segment_bp : int | None
        Shortest segment allowed (bp); ``None`` means ``segment_bp // 2``.

    Returns
    -------
    pairs : list of (segment_a, segment_b, genome label)

    Raises
    ------
    BioclError
        When no genome has a sequence of at least ``2 * min_segment_bp``.
    """
    if segment_bp <= 0 or n_pairs < 0:
        raise ValueError("segment_bp must be positive and n_pairs non-negative")
    min_segment_bp = segment_bp // 2 if min_segment_bp is None else min_segment_bp
    eligible: list[tuple[str, list[str], np.ndarray]] = []
    for label, sequences in genomes.items():
        usable = [s for s in sequences if len(s) >= 2 * max(min_segment_bp, 1)]
        if usable:
            lengths = np.array([len(s) for s in usable], dtype=float)
            eligible.append((label, usable, lengths / lengths.sum()))
    if not eligible:
        raise BioclError(f"no genome has a sequence of at least {2 * min_segment_bp} bp to cut two "
                         f"non-overlapping segments from", hint="use shorter segments or longer genomes")
    pairs = []
    for _ in range(n_pairs):
        label, sequences, weights = eligible[rng.integers(len(eligible))]
        seq = sequences[rng.choice(len(sequences), p=weights)]
        length = min(segment_bp, len(seq) // 2)
        # Two sorted draws in [0, L - 2 * length], the second shifted by `length`, reach
        # every non-overlapping placement and never an overlapping one.
        first, second = np.sort(rng.integers(0, len(seq) - 2 * length + 1, size=2))
        a, b = seq[first:first + length], seq[second + length:second + 2 * length]
        pairs.append((a, b, label) if rng.random() < 0.5 else (b, a, label))
    return pairs
