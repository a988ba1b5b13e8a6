"""MI-Mix (DNABERT-S phase II): mix the anchor view's hidden states at a random layer.

Per forward pass: draw a layer ``k`` uniformly in ``0..L-1`` (:func:`sample_layer`; ``k = 0``
mixes the token embeddings), run the layers below ``k``, replace the hidden states by
``lam_i h_i + (1 - lam_i) h_{r(i)}`` (:func:`mix_hidden`) with ``lam`` and the permutation
``r`` from :func:`sample_mix`, and continue. Only the anchor view is mixed; the loss is
:class:`biocl.heads.losses.MIMixLoss`, which turns the local permutation into global
columns. Every draw comes from a ``torch.Generator`` the caller passes: no global RNG.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from biocl.utils.docs import fill_doc

__all__ = ["sample_mix", "mix_hidden", "sample_layer"]


def _numpy_rng(generator: torch.Generator) -> np.random.Generator:
    """A numpy generator seeded by one draw of ``generator`` (numpy has a Beta sampler)."""
    seed = int(torch.randint(0, 2**63 - 1, (1,), generator=generator, device=generator.device).item())
    return np.random.default_rng(seed)


def sample_mix(n: int, *, alpha: float = 1.0, generator: torch.Generator, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """Mixing weights and partners for a batch of ``n`` anchors.

    Parameters
    ----------
    n : int
        Batch size (local to this process).
    alpha : float
        Beta(alpha, alpha) parameter (DNABERT-S: 1, i.e. uniform).
    generator : torch.Generator
        Source of every draw; the same generator state gives the same result.
    device : torch.device | str | None
        Device of the returned tensors (CPU when None).
    dtype : torch.dtype
        Floating dtype of ``lam``.

    Returns
    -------
    lam : Tensor of shape (n,)
        ``max(l, 1 - l)`` with ``l ~ Beta(alpha, alpha)``, so in [0.5, 1]: each anchor keeps
        at least half of itself.
    perm : Tensor of shape (n,), long
        A uniform random permutation: anchor ``i`` is mixed with sample ``perm[i]``.
    """
    if n < 1:
        raise ValueError(f"sample_mix needs n >= 1, got {n}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    draws = _numpy_rng(generator).beta(alpha, alpha, size=n)
    lam = torch.as_tensor(np.maximum(draws, 1.0 - draws), dtype=dtype, device=device)
    perm = torch.randperm(n, generator=generator, device=generator.device).to(device)
    return lam, perm


@fill_doc
def mix_hidden(hidden: Tensor, lam: Tensor, perm: Tensor,
               attention_mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Mix each sample's hidden states with its partner's.

    Parameters
    ----------
    hidden : Tensor of shape (n, L, d) or (n, d)
        Hidden states (token sequence) or pooled embeddings.
    %(lam)s
    perm : Tensor of shape (n,), long
        Partner of each sample.
    attention_mask : Tensor of shape (n, L) | None
        1/True for real tokens. The mixed sequence attends only where both sources have a
        token, so the mask becomes the intersection (same dtype as given).

    Returns
    -------
    mixed : Tensor, same shape as ``hidden``
        ``lam_i hidden_i + (1 - lam_i) hidden_{perm_i}``.
    mask : Tensor of shape (n, L) | None
        ``attention_mask_i AND attention_mask_{perm_i}``; None when no mask is given.
    """
    if lam.shape != (hidden.shape[0],) or perm.shape != (hidden.shape[0],):
        raise ValueError(f"lam and perm must have shape ({hidden.shape[0]},)")
    perm = perm.to(hidden.device)
    weight = lam.to(device=hidden.device, dtype=hidden.dtype).view(-1, *([1] * (hidden.dim() - 1)))
    mixed = weight * hidden + (1.0 - weight) * hidden[perm]
    if attention_mask is None:
        return mixed, None
    partner = attention_mask[perm]
    if attention_mask.dtype == torch.bool:
        return mixed, attention_mask & partner
    return mixed, ((attention_mask != 0) & (partner != 0)).to(attention_mask.dtype)


def sample_layer(n_layers: int, generator: torch.Generator) -> int:
    """A layer index drawn uniformly in ``0..n_layers - 1`` (0 mixes the token embeddings)."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    return int(torch.randint(0, n_layers, (1,), generator=generator, device=generator.device).item())
