"""How far a fit has gone: the ledger of the whole fit and the progress inside the current phase.

Both are what a state file records besides the weights, the optimiser and the random state,
so that a resumed run carries on from the very step it stopped after (see
:mod:`biocl.train.trainer` for the file's layout).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PhaseProgress", "Ledger"]


@dataclass
class PhaseProgress:
    """Progress inside the current phase, saved as the state file's ``"progress"``.

    ``phase_step`` counts the phase's optimiser steps (the cosine schedule's clock),
    ``steps_per_epoch`` is fixed at the phase's first epoch; ``best_value`` and
    ``bad_epochs`` drive early stopping; the sums are the running epoch means of the loss
    and of the step function's logs.
    """

    epochs_done: int = 0
    phase_step: int = 0
    steps_per_epoch: int = 0
    best_value: float | None = None
    bad_epochs: int = 0
    step_in_epoch: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    log_sums: dict[str, float] = field(default_factory=dict)
    log_counts: dict[str, int] = field(default_factory=dict)

    def add_step(self, position: int, loss: float, logs: dict[str, float]) -> None:
        """Count the step at ``position`` (0-based) of the epoch with its loss and logs."""
        self.phase_step += 1
        self.step_in_epoch = position + 1
        self.loss_sum += loss
        self.loss_count += 1
        for key, value in logs.items():
            self.log_sums[key] = self.log_sums.get(key, 0.0) + value
            self.log_counts[key] = self.log_counts.get(key, 0) + 1

    def log_means(self) -> dict[str, float]:
        """``{"train_<key>": epoch mean}`` of the step function's logs (its ``"loss"`` aside), sorted."""
        return {f"train_{key}": value / self.log_counts[key] for key, value in sorted(self.log_sums.items())
                if key != "loss"}

    def end_epoch(self, epoch: int) -> None:
        """Mark ``epoch`` done and clear the epoch's running sums."""
        self.epochs_done, self.step_in_epoch = epoch + 1, 0
        self.loss_sum, self.loss_count, self.log_sums, self.log_counts = 0.0, 0, {}, {}

    def observe(self, value: float, mode: str) -> None:
        """Record a monitored value: a new best resets ``bad_epochs``, anything else adds one.

        A value that is not finite is never a best.
        """
        better = math.isfinite(value) and (self.best_value is None or
                                           (value > self.best_value if mode == "max" else value < self.best_value))
        if better:
            self.best_value, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1


@dataclass
class Ledger:
    """What the whole fit has done, kept across phases and saved in every state file.

    ``history`` holds one record per completed epoch, ``stopped_early`` a flag per finished
    phase, ``best_files`` the best weights file of each phase, ``files`` the SHA-256 of each
    committed weights file and ``global_step`` the optimiser steps of the whole fit.
    """

    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: dict[str, bool] = field(default_factory=dict)
    best_files: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    global_step: int = 0

    def state(self) -> dict[str, Any]:
        """The entries of a state file, ``"files"`` last as the trainer has always written them."""
        return {"history": self.history, "stopped_early": self.stopped_early, "best_files": self.best_files,
                "global_step": self.global_step, "files": self.files}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Ledger:
        """The ledger a state file recorded."""
        return cls(history=state["history"], stopped_early=state["stopped_early"], best_files=state["best_files"],
                   files=state["files"], global_step=state["global_step"])
