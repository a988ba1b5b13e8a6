"""Gathering contrastive candidates across processes, exactly.

A contrastive loss under data parallelism scores the rows this process owns against the
columns of every process: local rows x global columns. Three pieces make that exact, and
every gathering loss in :mod:`biocl.heads.losses` uses them the same way:

1. :func:`gather_with_grad` concatenates every rank's tensor along the batch dimension, and
   its backward *sums* the gradients that all ranks computed for each slice (an all-gather
   whose adjoint is a reduce-scatter), so a rank's embeddings receive the gradient of every
   rank's loss through the columns, plus that of its own loss through its rows.
2. :func:`rank_offset_labels` is the one place where local row ``i`` learns that its positive
   is global column ``i + n_local * rank``. A mixing permutation, a reversal index or any
   other local index is offset the same way (the DNABERT-S flaw indexes the gathered batch
   with local permutations).
3. :func:`gather_no_grad` gathers what carries no gradient: ids, indices, queue keys.

Scaling convention, and why it is exact under DDP
-------------------------------------------------
Let the global batch hold ``N = W * n`` rows and the single-process loss be the mean of the
per-row losses, ``L = (1/N) sum_i l_i``, where each ``l_i`` depends on row ``i`` and on
all ``N`` columns. Each rank returns the mean over *its own* rows,
``L_r = (1/n) sum_{i in rank r} l_i``, so that ``(1/W) sum_r L_r = L`` (the logged loss
averaged over ranks is the global loss).

* A replicated parameter used directly by the loss (a learnable logit scale): rank ``r``
  holds ``dL_r/ds``; DDP averages, giving ``(1/W) sum_r dL_r/ds = dL/ds``. Exact.
* Embeddings ``x_r`` produced by the encoder on rank ``r``: through the summing backward of
  the gather, rank ``r`` holds ``sum_r' dL_r'/dx_r = W dL/dx_r``; the encoder parameters on
  rank ``r`` receive ``W dL/dx_r dx_r/dtheta``, and DDP's average over ranks gives
  ``sum_r dL/dx_r dx_r/dtheta = dL/dtheta``. Exact.

So the gradient a rank sees on its *input embeddings* is ``W`` times the single-process
gradient of the whole-batch loss, and that factor is precisely what DDP's averaging divides
out. The two tempting alternatives are each off by ``W``: dividing the per-rank loss by
``W`` (or a gather whose backward averages) gives parameter gradients ``1/W`` of the truth
(the open_clip default-flags and lightly bugs); a gather whose backward keeps only the local
slice drops every other rank's contribution. ``tests/heads/test_distributed_parity.py``
checks this convention with 1, 2 and 4 processes against one process on the whole batch.

Every process must hold the same number of rows: :func:`rank_offset_labels` checks it (the
gathered layout ``[rank 0 rows, rank 1 rows, ...]`` assumes it). Use ``drop_last=True`` in
the data loaders.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from biocl.utils.errors import BioclError

__all__ = ["world_info", "is_distributed", "gather_with_grad", "gather_no_grad", "rank_offset_labels",
           "offset_local_index"]


def is_distributed(group: dist.ProcessGroup | None = None) -> bool:
    """Whether a process group is initialised and holds more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group=group) > 1


def world_info(group: dist.ProcessGroup | None = None) -> tuple[int, int]:
    """This process's rank and the number of processes.

    Returns
    -------
    (rank, world_size) : tuple of int
        ``(0, 1)`` when ``torch.distributed`` is not initialised.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(group=group), dist.get_world_size(group=group)


def gather_with_grad(x: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """Concatenate ``x`` from every process along dimension 0; backward sums over ranks.

    Parameters
    ----------
    x : Tensor of shape (n, ...)
        This process's tensor; every process must pass the same shape.
    group : ProcessGroup | None
        The process group (the default group when None).

    Returns
    -------
    Tensor of shape (n * world_size, ...)
        Rank-major: rows ``[r * n, (r + 1) * n)`` come from rank ``r``. ``x`` itself when
        there is a single process. The gradient flowing back to ``x`` is the sum over ranks
        of the gradients for slice ``rank`` (see the module docstring for why this is the
        exact convention under DDP).
    """
    if not is_distributed(group):
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat([_ContiguousGrad.apply(part) for part in all_gather(x.contiguous(), group=group)], dim=0)


class _ContiguousGrad(torch.autograd.Function):
    """Identity whose backward makes the gradient contiguous.

    On gloo, the backward of ``torch.distributed.nn.functional.all_gather`` is an all-to-all
    built from ``dist.scatter`` into buffers made with ``empty_like(grad)``; a non-contiguous
    gradient (what a loss that transposes the gathered tensor, as SupCon does, sends back)
    gives non-contiguous buffers, which gloo's scatter fills wrongly without an error
    (pytorch/pytorch#192920; seen with torch 2.11, covered by the parity test).
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: Tensor) -> Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        return grad.contiguous()


def gather_no_grad(x: Tensor, group: dist.ProcessGroup | None = None) -> Tensor:
    """Concatenate ``x`` from every process along dimension 0, detached from the graph.

    For what carries no gradient: ids, indices, momentum keys. Same layout as
    :func:`gather_with_grad`; ``x.detach()`` when there is a single process.
    """
    x = x.detach()
    if not is_distributed(group):
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group=group))]
    dist.all_gather(parts, x.contiguous(), group=group)
    return torch.cat(parts, dim=0)


def _collective_device(device: torch.device | str | None, group: dist.ProcessGroup | None) -> torch.device:
    """A device the backend can run a collective on (NCCL needs CUDA tensors)."""
    if device is not None:
        return torch.device(device)
    if dist.get_backend(group=group) == dist.Backend.NCCL:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _check_equal_local_sizes(n_local: int, device: torch.device | str | None,
                             group: dist.ProcessGroup | None) -> None:
    sizes = gather_no_grad(torch.tensor([n_local], device=_collective_device(device, group)), group)
    if bool((sizes != n_local).any()):
        raise BioclError(
            f"the processes hold different local batch sizes {sizes.tolist()}; gathered contrastive "
            "losses need the same number of rows on every process",
            hint="use drop_last=True in the data loaders, or a global batch size divisible by the "
                 "number of processes")


def rank_offset_labels(n_local: int, rank: int | None = None, device: torch.device | str | None = None,
                       group: dist.ProcessGroup | None = None) -> Tensor:
    """Global column index of each local row's positive: ``arange(n_local) + n_local * rank``.

    Parameters
    ----------
    n_local : int
        Rows held by this process (the same on every process).
    rank : int | None
        The rank; this process's rank when None.
    device : torch.device | str | None
        Device of the returned labels (and of the size check under NCCL).
    group : ProcessGroup | None
        The process group.

    Returns
    -------
    Tensor of shape (n_local,), long

    Raises
    ------
    BioclError
        When a process group is running and the processes hold different batch sizes.
    """
    own_rank, _ = world_info(group)
    if is_distributed(group):
        _check_equal_local_sizes(n_local, device, group)
    rank = own_rank if rank is None else rank
    return torch.arange(n_local, device=device) + n_local * rank


def offset_local_index(index: Tensor, n_local: int, rank: int | None = None,
                       group: dist.ProcessGroup | None = None) -> Tensor:
    """Turn local row indices into global column indices; negative entries (none) stay -1.

    A mixing permutation or a reversal index is built on the local batch; the gathered
    columns put rank ``r``'s rows at ``[r * n_local, (r + 1) * n_local)``.
    """
    if rank is None:
        rank, _ = world_info(group)
    return torch.where(index >= 0, index + n_local * rank, torch.full_like(index, -1))
