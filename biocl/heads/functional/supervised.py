"""Supervised contrastive loss: every sample sharing an anchor's label is one of its positives."""

from __future__ import annotations

import torch
from torch import Tensor

from biocl.heads.functional._numerics import full_precision, negatives_only, upcast
from biocl.utils.docs import fill_doc

__all__ = ["supcon_loss"]


@fill_doc
def supcon_loss(features: Tensor, labels: Tensor | None = None, *, tau: float = 0.1, mask: Tensor | None = None,
                features_all: Tensor | None = None, labels_all: Tensor | None = None,
                sample_index: Tensor | None = None, offset: int = 0, normalize: bool = True) -> Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, the "L_out" form).

    Every view ``a`` of every local sample is an anchor; its positives ``P(a)`` are the other
    views of its own sample and every view of a sample with the same label (so same-label
    samples are never pushed apart as false negatives):

    ``l_a = -(1 / |P(a)|) sum_{p in P(a)} log(exp(s_ap) / sum_{b != a} exp(s_ab))``,
    ``s = cos / tau``; the loss is the mean over anchors with at least one positive. Without
    labels or mask it is SimCLR's NT-Xent (``log(2N - 1)`` for two views of N samples with
    equal similarities). With two or more views every anchor has a positive, so the mean over
    ranks of the per-rank losses is the whole-batch loss; with one view and labels, ranks
    with fewer anchors that have a positive weigh slightly more.

    Parameters
    ----------
    features : Tensor of shape (n, V, d)
        ``V`` views of each of this process's ``n`` samples.
    labels : Tensor of shape (n,) | None
        Class of each sample.
    %(tau)s
    mask : Tensor of shape (n, N), bool | None
        Alternative to ``labels``: True where global sample ``j`` is a positive of local
        sample ``i`` (the sample itself always is).
    features_all, labels_all : Tensor | None
        Samples gathered from every process (``features``, ``labels`` when None).
    sample_index : Tensor of shape (n,), long | None
        Global index of each local sample; ``arange(n) + offset`` when None.
    offset : int
        See ``sample_index``.
    %(normalize)s

    Returns
    -------
    Tensor, scalar
    """
    if labels is not None and mask is not None:
        raise ValueError("pass labels or mask, not both")
    if features.dim() != 3:
        raise ValueError(f"features must have shape (n, views, d), got {tuple(features.shape)}")
    if features_all is None:
        features_all, labels_all = features, labels
    n, n_views = features.shape[:2]
    n_all = features_all.shape[0]
    device = features.device
    if sample_index is None:
        sample_index = torch.arange(n, device=device) + offset
    with full_precision(features):
        rows = upcast(features.transpose(0, 1).reshape(n_views * n, -1))
        columns = upcast(features_all.transpose(0, 1).reshape(n_views * n_all, -1))
        if normalize:
            rows, columns = torch.nn.functional.normalize(rows, dim=1), torch.nn.functional.normalize(columns, dim=1)
        logits = rows @ columns.T / tau
        if mask is not None:
            same_sample = mask.to(device=device, dtype=torch.bool).clone()
        elif labels is not None:
            same_sample = labels.to(device)[:, None] == labels_all.to(device)[None, :]
        else:
            same_sample = torch.zeros(n, n_all, dtype=torch.bool, device=device)
        same_sample[torch.arange(n, device=device), sample_index] = True
        positives = same_sample.repeat(n_views, n_views)
        row_ids = torch.arange(n_views * n, device=device)
        self_columns = (row_ids // n) * n_all + sample_index.repeat(n_views)
        positives[row_ids, self_columns] = False
        log_prob = logits - torch.logsumexp(negatives_only(logits, self_columns), dim=1, keepdim=True)
        n_positives = positives.sum(dim=1)
        has_positive = n_positives > 0
        if not bool(has_positive.any()):
            raise ValueError("supcon_loss: no anchor has a positive (one view and no shared labels)")
        per_anchor = -(log_prob * positives).sum(dim=1)[has_positive] / n_positives[has_positive]
        return per_anchor.mean()
