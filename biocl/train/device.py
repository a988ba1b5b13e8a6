"""Where training runs: device choice, bf16 autocast, moving batches, seeding torch.

Numpy's global RNG is never touched here: code that needs numpy randomness is handed a
``numpy.random.Generator`` (see :class:`biocl.train.specs.EpochContext`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from biocl.utils.errors import BioclError

__all__ = ["select_device", "autocast", "move_to", "seed_everything", "derived_seed", "rng_state",
           "restore_rng_state"]


def select_device(preference: str = "auto") -> torch.device:
    """The device to train on.

    Parameters
    ----------
    preference : {"auto", "cpu", "cuda"}
        ``"auto"`` takes CUDA when a GPU is visible and the CPU otherwise. Under ``torchrun``
        a CUDA device is the process's ``LOCAL_RANK``-th GPU.

    Returns
    -------
    torch.device

    Raises
    ------
    BioclError
        When ``"cuda"`` is asked for and no GPU is visible, or the preference is unknown.
    """
    if preference not in ("auto", "cpu", "cuda"):
        raise BioclError(f"unknown device {preference!r}", hint="use auto, cpu or cuda (train.device)")
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise BioclError("train.device is 'cuda' but no GPU is visible to torch",
                         hint="set train.device=cpu or auto, or check the driver with `biocl doctor`")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if local_rank >= torch.cuda.device_count():
        raise BioclError(f"process LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPU(s) are visible",
                         hint="launch torchrun with --nproc_per_node no larger than the number of GPUs")
    return torch.device("cuda", local_rank)


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """bf16 autocast on CUDA; nothing on the CPU (CPU bf16 is slow and changes results).

    Parameters
    ----------
    device : torch.device
        The device the forward pass runs on.
    enabled : bool
        ``False`` turns autocast off everywhere (``train.bf16: false``).
    """
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield


def move_to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor, however nested in dicts, lists and tuples, moved to ``device``.

    Other values (strings, numbers, arrays, None) are returned as they are; named tuples and
    dataclass-free containers keep their type.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return type(batch)((key, move_to(value, device)) for key, value in batch.items())
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(value, device) for value in batch)
    return batch


def seed_everything(seed: int) -> None:
    """Seed torch's CPU and CUDA generators for the whole process (numpy's is left alone on purpose).

    For scripts and tests that own the process; library code seeds one block instead
    (:func:`biocl.utils.seeding.seeded`), leaving the caller's generators as they were.

    Parameters
    ----------
    seed : int
        Any integer; negative values are folded into the unsigned 64-bit range torch accepts.
    """
    torch.manual_seed(seed & 0xFFFF_FFFF_FFFF_FFFF)


def derived_seed(seed: int, *key: int) -> int:
    """A 63-bit seed for ``(seed, *key)``, statistically independent of every other key.

    The trainer seeds each epoch's generators from ``(seed, phase, epoch, rank, stream)``,
    so a run resumed at any epoch draws exactly what an uninterrupted run draws.
    """
    entropy = [seed & 0xFFFF_FFFF_FFFF_FFFF, *key]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def rng_state(generator: torch.Generator, device: torch.device) -> dict[str, Any]:
    """torch's global CPU state, ``device``'s CUDA state and ``generator``'s, as tensors."""
    cuda = [torch.cuda.get_rng_state(device)] if device.type == "cuda" else []
    return {"torch": torch.get_rng_state(), "cuda": cuda, "generator": generator.get_state()}


def restore_rng_state(state: dict[str, Any], generator: torch.Generator, device: torch.device) -> None:
    """Put back what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"][0], device)
    generator.set_state(state["generator"])
