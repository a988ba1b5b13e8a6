"""Two-view losses: both views of every pair are anchors, every other view is a negative.

DNABERT-S's weighted SimCLR (:func:`weighted_infonce`) and its MI-Mix loss, whose mixed
anchor has two positives (:func:`mimix_loss`), and the decoupled contrastive loss
(:func:`dcl_loss`). Rows are this process's views, columns every process's; ``labels`` (or
``offset``) say where the local pairs sit among the columns.
"""

from __future__ import annotations

import torch
from torch import Tensor

from biocl.heads.functional._numerics import (default_labels, full_precision, log_hard_negative_mass,
                                              negatives_only, upcast)
from biocl.heads.functional.clip import clip_scores
from biocl.utils.docs import fill_doc

__all__ = ["weighted_infonce", "mimix_loss", "dcl_loss"]


def _two_view_logits(z1: Tensor, z2: Tensor, z1_all: Tensor | None, z2_all: Tensor | None,
                     labels: Tensor | None, offset: int, tau: float,
                     normalize: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Logits of the 2n local views against the 2N global views, with self and positive columns.

    Rows are ``[z1; z2]`` (local), columns ``[z1_all; z2_all]`` (global). Row ``i`` (view 1
    of global pair ``g = labels[i]``) has itself at column ``g`` and its positive at
    ``N + g``; row ``n + i`` has itself at ``N + g`` and its positive at ``g``.
    """
    if (z1_all is None) != (z2_all is None):
        raise ValueError("pass both z1_all and z2_all, or neither")
    if z1_all is None:
        z1_all, z2_all = z1, z2
    n, n_all = z1.shape[0], z1_all.shape[0]
    if labels is None:
        labels = torch.arange(n, device=z1.device) + offset
    labels = default_labels(labels, n, n_all, z1.device)
    rows = upcast(torch.cat([z1, z2]).flatten(1))
    columns = upcast(torch.cat([z1_all, z2_all]).flatten(1))
    if normalize:
        rows, columns = torch.nn.functional.normalize(rows, dim=1), torch.nn.functional.normalize(columns, dim=1)
    logits = rows @ columns.T / tau
    self_columns = torch.cat([labels, labels + n_all])
    positive_columns = torch.cat([labels + n_all, labels])
    return logits, self_columns, positive_columns


@fill_doc
def weighted_infonce(z1: Tensor, z2: Tensor, *, z1_all: Tensor | None = None, z2_all: Tensor | None = None,
                     labels: Tensor | None = None, offset: int = 0, tau: float = 0.05,
                     normalize: bool = True) -> Tensor:
    """DNABERT-S phase I "weighted SimCLR": InfoNCE whose hard negatives weigh more.

    Each of the ``2n`` local views is an anchor; its positive is the other view of its pair
    and its ``K = 2N - 2`` negatives are every other view of the global batch (both views of
    every other pair). With ``s = cos / tau``, negative ``k`` of anchor ``a`` is weighted by
    ``w_ak = K softmax_k(s_ak)``:

    ``l_a = -log(exp(s_ap) / (exp(s_ap) + sum_k w_ak exp(s_ak)))``,

    where ``sum_k w_ak exp(s_ak) = sum_k exp(2 s_ak) / mean_k exp(s_ak)`` (the authors'
    ``Ng``). As in their code, gradients flow through the weights too. The loss is the mean
    of ``l_a`` over the ``2n`` anchors; with all similarities equal it is ``log(2N - 1)``.

    Parameters
    ----------
    z1, z2 : Tensor of shape (n, d)
        This process's two views; row ``i`` of each is the same pair.
    z1_all, z2_all : Tensor of shape (N, d) | None
        The views gathered from every process (``z1``, ``z2`` when None).
    labels : Tensor of shape (n,), long | None
        Global index of each local pair in ``z1_all``; ``arange(n) + offset`` when None.
    offset : int
        See ``labels``.
    %(tau)s
    %(normalize)s

    Returns
    -------
    Tensor, scalar
    """
    with full_precision(z1):
        logits, self_columns, positive_columns = _two_view_logits(z1, z2, z1_all, z2_all, labels, offset, tau,
                                                                  normalize)
        n_negatives = logits.shape[1] - 2
        if n_negatives < 1:
            raise ValueError("weighted_infonce needs at least two pairs in the (global) batch")
        rows = torch.arange(logits.shape[0], device=logits.device)
        positive = logits[rows, positive_columns]
        log_mass = log_hard_negative_mass(negatives_only(logits, self_columns, positive_columns), n_negatives)
        return -(positive - torch.logaddexp(positive, log_mass)).mean()


@fill_doc
def mimix_loss(z_mixed: Tensor, z_pos: Tensor, lam: Tensor, mix_index: Tensor, *, labels: Tensor | None = None,
               tau: float = 0.05, normalize: bool = True) -> Tensor:
    """DNABERT-S phase II MI-Mix loss: the mixed anchor's target is split between two positives.

    With ``s_ij = z_i . z+_j / tau`` (``z_i`` the mixed anchor, ``z+_j`` the positive
    views), ``y_i = labels[i]`` the anchor's own positive and ``r_i = mix_index[i]`` the
    positive of the sample it was mixed with, the negatives of row ``i`` are every column
    ``j != y_i`` of ``z_pos`` (``K = m - 1`` of them, ``r_i`` included, as in the authors'
    code), ``Ng_i = sum_j exp(2 s_ij) / mean_j exp(s_ij)`` over those, and

    ``l_i = -[lam_i log(e^{s_{i,y_i}} / D_i) + (1 - lam_i) log(e^{s_{i,r_i}} / D_i)]``,
    ``D_i = e^{s_{i,y_i}} + Ng_i``,

    computed in log space; the loss is the mean over rows.

    Parameters
    ----------
    z_mixed : Tensor of shape (n, d)
        This process's mixed anchors.
    z_pos : Tensor of shape (m, d)
        The unmixed positive views; may be gathered from every process.
    %(lam)s
    mix_index : Tensor of shape (n,), long
        *Global* column of the positive each anchor was mixed with
        (:class:`biocl.heads.losses.MIMixLoss` offsets the local permutation).
    %(labels)s
    %(tau)s
    %(normalize)s

    Returns
    -------
    Tensor, scalar
    """
    n, m = z_mixed.shape[0], z_pos.shape[0]
    if m < 2:
        raise ValueError("mimix_loss needs at least two positives")
    labels = default_labels(labels, n, m, z_mixed.device)
    with full_precision(z_mixed):
        mode = "both" if normalize else "none"
        logits = clip_scores(z_mixed, z_pos, normalize=mode) / tau
        rows = torch.arange(n, device=logits.device)
        own = logits[rows, labels]
        mixed_with = logits[rows, mix_index.to(device=logits.device, dtype=torch.long)]
        log_denominator = torch.logaddexp(own, log_hard_negative_mass(negatives_only(logits, labels), m - 1))
        lam = lam.to(logits.dtype)
        return -(lam * (own - log_denominator) + (1.0 - lam) * (mixed_with - log_denominator)).mean()


def dcl_loss(z1: Tensor, z2: Tensor, *, tau: float = 0.1, z1_all: Tensor | None = None,
             z2_all: Tensor | None = None, labels: Tensor | None = None, offset: int = 0,
             normalize: bool = True) -> Tensor:
    """Decoupled contrastive loss (Yeh et al. 2022): the positive leaves the denominator.

    Same views and negatives as :func:`weighted_infonce` (``2N - 2`` per anchor), unweighted:
    ``l_a = -s_ap + log sum_k exp(s_ak)``, ``s = cos / tau``; mean over the ``2n`` anchors.
    With all similarities equal it is ``log(2N - 2)``. Parameters as in
    :func:`weighted_infonce`.
    """
    with full_precision(z1):
        logits, self_columns, positive_columns = _two_view_logits(z1, z2, z1_all, z2_all, labels, offset, tau,
                                                                  normalize)
        if logits.shape[1] < 3:
            raise ValueError("dcl_loss needs at least two pairs in the (global) batch")
        rows = torch.arange(logits.shape[0], device=logits.device)
        negatives = negatives_only(logits, self_columns, positive_columns)
        return (torch.logsumexp(negatives, dim=1) - logits[rows, positive_columns]).mean()
