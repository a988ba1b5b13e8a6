"""What every pure loss shares: full-precision scoring, default labels, masks of excluded columns.

Half-precision inputs are promoted to float32 and autocast is disabled while scoring, so a
large logit scale cannot overflow; float64 stays float64 (the tests compare with plain-loop
references at 1e-10). Log-probabilities come from ``cross_entropy`` / ``logsumexp``, never
from ``exp`` then ``log``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["full_precision", "upcast", "scaled", "default_labels", "positive_mask", "negatives_only",
           "log_hard_negative_mass"]


@contextlib.contextmanager
def full_precision(x: Tensor) -> Iterator[None]:
    """Disable autocast on ``x``'s device for the block."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        yield


def upcast(x: Tensor) -> Tensor:
    """``x`` in float32 when it is float16 or bfloat16, else ``x`` itself."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def scaled(scores: Tensor, logit_scale: Tensor | float | None) -> Tensor:
    """``scores * exp(logit_scale)``; ``scores`` when the log scale is None."""
    if logit_scale is None:
        return scores
    return scores * torch.as_tensor(logit_scale, dtype=scores.dtype, device=scores.device).exp()


def default_labels(labels: Tensor | None, n: int, m: int, device: torch.device) -> Tensor:
    """``labels`` checked and as long on ``device``; ``arange(n)`` when None (rows and columns aligned).

    Raises
    ------
    ValueError
        When ``labels`` is None but there are more rows than columns, or has the wrong shape.
    """
    if labels is None:
        if n > m:
            raise ValueError(f"{n} rows but only {m} columns: pass labels saying which column is each row's positive")
        return torch.arange(n, device=device)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    return labels.to(device=device, dtype=torch.long)


def positive_mask(labels: Tensor, m: int) -> Tensor:
    """Boolean (n, m) mask, True at each row's positive column."""
    return torch.nn.functional.one_hot(labels, m).bool()


def negatives_only(logits: Tensor, *excluded_columns: Tensor) -> Tensor:
    """``logits`` with each row's excluded columns (one index per row per tensor) set to -inf."""
    excluded = torch.zeros_like(logits, dtype=torch.bool)
    rows = torch.arange(logits.shape[0], device=logits.device)
    for columns in excluded_columns:
        excluded[rows, columns] = True
    return logits.masked_fill(excluded, float("-inf"))


def log_hard_negative_mass(negative_logits: Tensor, n_negatives: int) -> Tensor:
    """``log sum_k exp(2 s_k) / mean_k exp(s_k)`` = ``log sum_k K softmax(s)_k exp(s_k)``, per row."""
    return (torch.logsumexp(2.0 * negative_logits, dim=1) - torch.logsumexp(negative_logits, dim=1)
            + math.log(n_negatives))
