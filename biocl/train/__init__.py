"""One training loop for every pipeline: devices, DDP, checkpoints and resume, curricula."""

from biocl.train.checkpoint import load_state, save_state
from biocl.train.device import autocast, move_to, select_device, seed_everything
from biocl.train.trainer import EpochContext, FitResult, PhaseSpec, StepContext, Trainer

__all__ = [
    "Trainer", "PhaseSpec", "StepContext", "EpochContext", "FitResult",
    "select_device", "autocast", "move_to", "seed_everything",
    "save_state", "load_state",
]
