"""Reproducible model initialisation without touching the caller's random state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded_torch"]


@contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Run a block with torch's CPU generator seeded with ``seed``, then put it back as it was.

    Layers draw their initial weights from torch's CPU generator, so building a model inside
    this block gives the same weights for the same seed whatever ran before, and code after
    the block draws what it would have drawn without it. The CPU generator is seeded exactly
    as ``torch.manual_seed(seed)`` seeds it; the CUDA generators are neither seeded nor
    saved (models are built on the CPU; the trainer seeds its own streams per epoch).

    Parameters
    ----------
    seed : int
        Seed of the block's draws.

    Examples
    --------
    >>> with seeded_torch(0):
    ...     layer = torch.nn.Linear(4, 2)
    """
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        yield
