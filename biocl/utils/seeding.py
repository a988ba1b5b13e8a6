"""Scoped seeding of torch's global generators: seed inside a block, give the caller's state back.

Code that cannot take a ``torch.Generator`` (``nn.Module`` initialisation, dropout) draws from
torch's global generators. :func:`seeded` seeds them for one block and restores what the
caller had when it ends, so building a model from a protocol's seed neither depends on what
ran before in the process nor changes what runs after. Only the CPU generator and, when
given, one CUDA device's generator are touched: restoring every visible GPU's generator would
initialise a CUDA context on each of them.

torch is imported inside the functions: :mod:`biocl.utils` is imported by the command line
before it knows whether a command needs torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["seeded", "forked_rng", "seed_generators"]


def _cuda_index(device: torch.device | str | None) -> int | None:
    """The CUDA device index ``device`` names (CUDA initialised), or None for any other device."""
    import torch

    if device is None or torch.device(device).type != "cuda":
        return None
    torch.cuda.init()
    index = torch.device(device).index
    return torch.cuda.current_device() if index is None else index


@contextlib.contextmanager
def forked_rng(device: torch.device | str | None = None) -> Iterator[None]:
    """Give torch's CPU generator (and ``device``'s, for a CUDA device) back as they were when the block ends.

    Parameters
    ----------
    device : torch.device | str | None
        A CUDA device whose generator the block may draw from or reseed too; None or a CPU
        device forks the CPU generator only.
    """
    import torch

    index = _cuda_index(device)
    with torch.random.fork_rng(devices=[] if index is None else [index]):
        yield


def seed_generators(seed: int, device: torch.device | str | None = None) -> None:
    """Seed torch's CPU generator and, for a CUDA ``device``, that device's generator, with ``seed``.

    On those generators this is what ``torch.manual_seed(seed)`` does; the other devices'
    generators are left alone.

    Parameters
    ----------
    seed : int
        In ``[-2**63, 2**64 - 1]``, as ``torch.manual_seed`` takes it.
    device : torch.device | str | None
        The device whose generator is seeded besides the CPU's (only CUDA devices have one).
    """
    import torch

    index = _cuda_index(device)
    if index is not None:
        torch.cuda.default_generators[index].manual_seed(int(seed))
    torch.default_generator.manual_seed(int(seed))


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str | None = None) -> Iterator[None]:
    """Run the block with torch's generators seeded from ``seed``, restored when it ends.

    ``with seeded(protocol.seed): model = build(...)`` gives the same initial weights
    whatever ran before, and leaves the caller's global state as it was.

    Parameters
    ----------
    seed : int
        The seed of the block's draws from the global generators.
    device : torch.device | str | None
        A CUDA device seeded and restored too (for a model built directly on the GPU);
        None seeds the CPU generator only.
    """
    with forked_rng(device):
        seed_generators(seed, device)
        yield
