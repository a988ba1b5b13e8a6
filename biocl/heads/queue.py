"""A MoCo queue of negatives and the momentum (EMA) update of a target encoder.

Keys enter the queue without gradient and, under data parallelism, gathered from every
process (MoCo), so every process holds the same queue.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from biocl.heads.distributed import gather_no_grad

__all__ = ["MomentumQueue", "momentum_update"]


class MomentumQueue(nn.Module):
    """A first-in first-out ring of ``size`` key embeddings of dimension ``dim``.

    The keys are buffers, so they are saved in checkpoints with the model.

    Parameters
    ----------
    dim : int
        Embedding dimension.
    size : int
        Number of keys kept (MoCo: 65,536).
    gather : bool
        Enqueue the keys of every process (gathered without gradient).
    """

    def __init__(self, dim: int, size: int, gather: bool = True):
        super().__init__()
        if dim < 1 or size < 1:
            raise ValueError(f"dim and size must be positive, got {dim} and {size}")
        self.gather = gather
        self.register_buffer("keys_buffer", torch.zeros(size, dim))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        """Capacity of the queue."""
        return self.keys_buffer.shape[0]

    def __len__(self) -> int:
        return int(self.count)

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Add ``keys`` (n, dim), dropping the oldest entries once the queue is full."""
        keys = gather_no_grad(keys) if self.gather else keys.detach()
        if keys.dim() != 2 or keys.shape[1] != self.keys_buffer.shape[1]:
            raise ValueError(f"keys must have shape (n, {self.keys_buffer.shape[1]}), got {tuple(keys.shape)}")
        keys = keys[-self.size:].to(self.keys_buffer.dtype)
        slots = (int(self.pointer) + torch.arange(keys.shape[0], device=keys.device)) % self.size
        self.keys_buffer[slots.to(self.keys_buffer.device)] = keys.to(self.keys_buffer.device)
        self.pointer.fill_((int(self.pointer) + keys.shape[0]) % self.size)
        self.count.fill_(min(self.size, int(self.count) + keys.shape[0]))

    def keys(self) -> Tensor:
        """The stored keys, oldest first, shape (len(self), dim); detached."""
        n = int(self.count)
        start = (int(self.pointer) - n) % self.size
        order = (start + torch.arange(n, device=self.keys_buffer.device)) % self.size
        return self.keys_buffer[order].detach()


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, m: float) -> None:
    """Move ``target`` towards ``online``: ``theta_t <- m theta_t + (1 - m) theta_o``.

    Floating buffers (batch-norm statistics) follow the same average; integer buffers
    (counters) are copied.

    Parameters
    ----------
    online, target : nn.Module
        Modules with the same parameter and buffer names and shapes.
    m : float
        Momentum in [0, 1] (MoCo: 0.999); 0 copies ``online``, 1 leaves ``target``.
    """
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {m}")
    online_state = dict(online.named_parameters())
    online_state.update(online.named_buffers())
    target_state = dict(target.named_parameters())
    target_state.update(target.named_buffers())
    if online_state.keys() != target_state.keys():
        raise ValueError("online and target modules have different parameters or buffers")
    for name, theta_target in target_state.items():
        theta_online = online_state[name]
        if theta_target.is_floating_point():
            theta_target.lerp_(theta_online.to(theta_target.dtype), 1.0 - m)
        else:
            theta_target.copy_(theta_online)
