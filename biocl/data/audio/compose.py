"""Composed sounds: "A before B", "B before A", "A while B".

A composition is built from two single clips that already have the same length (see
:func:`biocl.data.audio.reading.fit_length`):

``forward``   A then B, concatenated with an optional gap of silence: ``2 n + gap`` samples;
``reversed``  B then A, the same two clips swapped: ``2 n + gap`` samples;
``overlay``   A and B mixed sample by sample after matching B's level to A's: ``n`` samples.

Everything here is deterministic: the same clips give the same composition, so an
evaluation never sees a different version of a composed clip (no random crops, unlike the
authors' loader, which cut every 10 s composition to a random 5 s half).

Their captions come from templates (:mod:`biocl.utils.templates`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from biocl.utils.errors import BioclError

__all__ = [
    "KINDS",
    "concatenate",
    "overlay",
    "compose",
]

Kind = Literal["forward", "reversed", "overlay"]
KINDS: tuple[str, ...] = ("forward", "reversed", "overlay")
_PEAK_LIMIT = 0.99


def concatenate(first: np.ndarray, second: np.ndarray, *, gap_samples: int = 0) -> np.ndarray:
    """``first`` then ``gap_samples`` of silence then ``second``.

    Parameters
    ----------
    first, second : np.ndarray of shape (n,) and (m,)
        Mono waveforms at the same sample rate.
    gap_samples : int
        Silence between the two, samples (``gap_s * sample_rate_hz``).

    Returns
    -------
    np.ndarray of shape (n + gap_samples + m,)
    """
    if gap_samples < 0:
        raise BioclError(f"the gap between composed sounds must be >= 0 samples (got {gap_samples})")
    gap = np.zeros(gap_samples, dtype=np.float32)
    return np.concatenate([first, gap, second]).astype(np.float32, copy=False)


def overlay(first: np.ndarray, second: np.ndarray, *, level_match: bool = True) -> np.ndarray:
    """``first`` and ``second`` sounding at once.

    The shorter one is zero-padded at the end. With ``level_match`` the second is scaled to
    the first's RMS level, so neither sound hides the other; the sum is then scaled down
    only if its peak would exceed 0.99 (no clipping).

    Returns
    -------
    np.ndarray of shape (max(n, m),)
    """
    n = max(first.shape[0], second.shape[0])
    a = np.zeros(n, dtype=np.float64)
    b = np.zeros(n, dtype=np.float64)
    a[:first.shape[0]] = first
    b[:second.shape[0]] = second
    if level_match:
        rms_a, rms_b = np.sqrt(np.mean(a * a)), np.sqrt(np.mean(b * b))
        if rms_a > 0 and rms_b > 0:
            b *= rms_a / rms_b
    mixed = a + b
    peak = np.max(np.abs(mixed)) if n else 0.0
    if peak > _PEAK_LIMIT:
        mixed *= _PEAK_LIMIT / peak
    return mixed.astype(np.float32)


def compose(first: np.ndarray, second: np.ndarray, kind: Kind, *, gap_samples: int = 0,
            level_match: bool = True) -> np.ndarray:
    """The ``forward`` (A then B), ``reversed`` (B then A) or ``overlay`` (A while B) composition of A=``first``, B=``second``."""
    if kind == "forward":
        return concatenate(first, second, gap_samples=gap_samples)
    if kind == "reversed":
        return concatenate(second, first, gap_samples=gap_samples)
    if kind == "overlay":
        return overlay(first, second, level_match=level_match)
    raise BioclError(f"unknown composition {kind!r}; use one of {', '.join(KINDS)}")
