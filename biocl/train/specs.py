"""What a pipeline hands the trainer, what its functions are told, and what it gets back.

A pipeline describes each phase with a :class:`PhaseSpec` (the protocol's phase plus its
``batches``, ``step`` and ``validate`` functions); the trainer calls ``batches`` with an
:class:`EpochContext`, ``step`` with a :class:`StepContext`, and returns a
:class:`FitResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from biocl.protocols.base import Phase

__all__ = ["StepContext", "EpochContext", "PhaseSpec", "FitResult"]


@dataclass
class StepContext:
    """What a step function knows about where it is.

    ``step`` is the number of optimiser steps taken before this one in the whole fit;
    ``generator`` is a CPU generator seeded from ``(seed, phase, epoch, rank)``, for
    augmentations and sampling inside the step.
    """

    device: torch.device
    phase: str
    epoch: int
    step: int
    rank: int
    world_size: int
    generator: torch.Generator


@dataclass
class EpochContext:
    """What a batch function knows: the epoch, this process's rank, and its randomness.

    ``generator`` is seeded from ``(seed, phase, epoch)`` only, so every rank draws the same
    order; the batch function shards it itself (``items[rank::world_size]``) so that all
    ranks get the same number of batches. ``batch_size`` is the phase's (or ``train``'s).
    """

    phase: str
    epoch: int
    rank: int
    world_size: int
    seed: int
    generator: np.random.Generator
    batch_size: int = 32


@dataclass
class PhaseSpec:
    """One phase of training: the protocol phase and the pipeline's functions for it.

    ``monitor`` names the key of ``validate``'s dict used for early stopping and the best
    checkpoint (``mode`` ``"max"`` or ``"min"``). ``find_unused_parameters`` is passed to
    DDP; it stays on by default because a phase cannot know ahead which parameters its loss
    leaves unused.
    """

    phase: Phase
    step: Callable[[nn.Module, Any, StepContext], tuple[torch.Tensor, dict[str, float]]]
    batches: Callable[[EpochContext], Iterable[Any]]
    validate: Callable[[nn.Module], dict[str, float]] | None = None
    monitor: str | None = None
    mode: str = "max"
    find_unused_parameters: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"PhaseSpec.mode must be 'max' or 'min', not {self.mode!r}")
        if self.monitor is not None and self.validate is None:
            raise ValueError(f"phase {self.phase.name!r} monitors {self.monitor!r} but has no validate function")


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` hands back.

    ``history`` holds one record per completed epoch (as logged to ``metrics.jsonl``);
    ``best`` maps phase names to best checkpoints and ``last`` is the last checkpoint (both
    only with a run folder); ``best_sha256`` maps phase names to the best files' hashes.
    """

    history: list[dict[str, Any]]
    best: dict[str, Path]
    last: Path | None
    stopped_early: dict[str, bool]
    steps: int
    best_sha256: dict[str, str] = field(default_factory=dict)

