"""The optimiser and learning-rate schedule a protocol's ``train`` section names, and epoch lengths."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from biocl.protocols.base import TrainConfig
from biocl.train.progress import PhaseProgress

__all__ = ["build_optimizer", "learning_rate", "epoch_length"]


def build_optimizer(config: TrainConfig, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """``config.optimizer`` (Adam, AdamW or SGD) over ``params`` with ``config.weight_decay``."""
    decay = config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    return torch.optim.SGD(params, lr=lr, weight_decay=decay)


def learning_rate(config: TrainConfig, base_lr: float, progress: PhaseProgress, epoch: int, epochs: int) -> float:
    """The learning rate of the phase's next step.

    Cosine decays per step over the phase's ``steps_per_epoch * epochs`` steps, exponential
    multiplies by ``config.gamma`` per epoch; ``"none"`` keeps ``base_lr``.
    """
    if config.schedule == "cosine":
        total = max(progress.steps_per_epoch * epochs, 1)
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * min(progress.phase_step / total, 1.0)))
    if config.schedule == "exponential":
        return base_lr * config.gamma ** epoch
    return base_lr


def epoch_length(batches: Iterable[Any], cap: int | None) -> int | None:
    """Steps the epoch will take, when it can be known without iterating."""
    try:
        size = len(batches)  # type: ignore[arg-type]
    except TypeError:
        return cap
    return size if cap is None else min(size, cap)
