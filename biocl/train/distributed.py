"""The process group when launched by ``torchrun``: set-up, tear-down and small collectives.

``torchrun --nproc_per_node=N`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``
and ``MASTER_PORT``; :func:`init_from_env` reads them. A single process (no ``WORLD_SIZE``
or ``WORLD_SIZE=1``) never creates a group and every helper here is then a no-op.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["init_from_env", "destroy", "is_main", "rank", "world_size", "barrier", "main_process_first",
           "broadcast_object", "all_gather_object", "all_reduce_sum"]


def init_from_env(device: str = "auto") -> tuple[int, int, int]:
    """Initialise the default process group from torchrun's environment variables.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        The protocol's ``train.device``: the group uses NCCL when training will run on
        CUDA and gloo otherwise.

    Returns
    -------
    rank, world_size, local_rank : int
        ``(0, 1, 0)`` for a single process.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    global_rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world <= 1:
        return 0, 1, 0
    if not dist.is_initialized():
        use_cuda = device != "cpu" and torch.cuda.is_available()
        if use_cuda:
            # NCCL collectives run on the current device; it must be this process's GPU.
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", init_method="env://",
                                rank=global_rank, world_size=world)
    return dist.get_rank(), dist.get_world_size(), local_rank


def destroy(synchronize: bool = False) -> None:
    """Destroy the default process group if there is one.

    Always call it before a distributed process exits: one that exits with a live group
    aborts with "terminate called without an active exception".

    Parameters
    ----------
    synchronize : bool
        Wait for every rank first, so that no rank tears its connections down while a
        peer is still finishing its last collective. Pass it on the success path only:
        after an error the peers may be blocked in another collective and never arrive.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if synchronize:
        barrier()
    # Wrappers such as DDP hold the group; free unreachable ones while the interpreter is
    # whole, not during its shutdown, where freeing gloo work objects can abort the process.
    gc.collect()
    dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """The number of processes (1 without a group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Whether this process is rank 0, the one that writes shared files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process reaches this point (no-op for one process)."""
    if not _active():
        return
    if dist.get_backend() == "nccl":
        dist.barrier(device_ids=[torch.cuda.current_device()])
    else:
        dist.barrier()


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """Run the block on rank 0 first and on the other ranks only after it finished.

    For work that fills a shared cache (simulating the default data set): rank 0 writes it,
    the others then find it complete instead of racing to write the same files. Assumes the
    cache folder is on a file system that every rank sees.
    """
    if not is_main():
        barrier()
    try:
        yield
    finally:
        if is_main():
            barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` as rank ``src`` holds it, on every rank (picklable objects only)."""
    if not _active():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not _active():
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over ranks, in float64 (``device`` must suit the backend)."""
    if not _active():
        return [float(v) for v in values]
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.tolist()]
