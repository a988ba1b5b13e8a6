"""One training loop for every pipeline: devices, DDP, checkpoints and resume, curricula.

A pipeline describes its phases (:mod:`biocl.train.specs`) and hands them to the
:class:`Trainer` (:mod:`biocl.train.trainer`), which keeps its progress in
:mod:`biocl.train.progress`, builds the optimiser and schedule in :mod:`biocl.train.optim`,
writes checkpoints with :mod:`biocl.train.checkpoint` and runs where
:mod:`biocl.train.device` and :mod:`biocl.train.distributed` say.
"""

from biocl.train.checkpoint import load_state, save_state
from biocl.train.device import autocast, move_to, select_device, seed_everything
from biocl.train.specs import EpochContext, FitResult, PhaseSpec, StepContext
from biocl.train.trainer import Trainer

__all__ = [
    "Trainer", "PhaseSpec", "StepContext", "EpochContext", "FitResult",
    "select_device", "autocast", "move_to", "seed_everything",
    "save_state", "load_state",
]
