"""CLIP-style losses: each query against a set of candidates, one of which is its positive.

The plain CLIP / InfoNCE cross-entropy (:func:`clip_loss`, built from :func:`clip_scores`,
:func:`clip_logits` and :func:`contrastive_cross_entropy`), its version whose denominator
weighs reversed-order candidates more (:func:`tnce_loss`, TeminAL B) and MoCo's InfoNCE
against a queue of negatives (:func:`info_nce`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from biocl.heads.functional._numerics import default_labels, full_precision, positive_mask, scaled, upcast
from biocl.utils.docs import fill_doc

__all__ = ["NORMALIZE_MODES", "clip_scores", "clip_logits", "contrastive_cross_entropy", "clip_loss",
           "tnce_log_weights", "tnce_loss", "info_nce"]

#: The similarity modes of :func:`clip_scores`.
NORMALIZE_MODES = ("both", "candidates", "none")


@fill_doc
def clip_scores(queries: Tensor, candidates: Tensor, *, normalize: str = "both") -> Tensor:
    """Similarity of every query with every candidate.

    Parameters
    ----------
    queries : Tensor of shape (n, ...)
        Query embeddings; trailing dimensions are flattened, so an output of shape
        (n, channels, time) is scored over channels x time as in brainmagick.
    candidates : Tensor of shape (m, ...)
        Candidate embeddings, flattened the same way.
    %(normalize_mode)s

    Returns
    -------
    Tensor of shape (n, m)
    """
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"normalize must be one of {NORMALIZE_MODES}, got {normalize!r}")
    q = upcast(queries.flatten(1))
    c = upcast(candidates.flatten(1))
    if normalize == "both":
        q = torch.nn.functional.normalize(q, dim=1)
    if normalize in ("both", "candidates"):
        c = torch.nn.functional.normalize(c, dim=1)
    return q @ c.T


@fill_doc
def clip_logits(queries: Tensor, candidates: Tensor, *, logit_scale: Tensor | float | None = None,
                normalize: str = "both") -> Tensor:
    """:func:`clip_scores` times ``exp(logit_scale)`` (unscaled when None), in float32 at least.

    Computed with autocast disabled, so half-precision embeddings cannot overflow.

    Parameters
    ----------
    queries, candidates : Tensor
        As in :func:`clip_scores`.
    %(logit_scale)s
    %(normalize_mode)s

    Returns
    -------
    Tensor of shape (n, m)
    """
    with full_precision(queries):
        return scaled(clip_scores(queries, candidates, normalize=normalize), logit_scale)


def contrastive_cross_entropy(logits: Tensor, labels: Tensor, *, candidate_mask: Tensor | None = None,
                              log_weights: Tensor | None = None) -> Tensor:
    """Mean over rows of ``-log(exp(l_{i,y_i}) / sum_j w_ij exp(l_ij))``.

    Parameters
    ----------
    logits : Tensor of shape (n, m)
        Scaled scores of each row against each column.
    labels : Tensor of shape (n,), long
        Column of each row's positive.
    candidate_mask : Tensor of shape (n, m), bool | None
        True removes that column from that row's denominator (``w_ij = 0``): known false
        negatives. A row's positive is never removed.
    log_weights : Tensor of shape (n, m) | None
        ``log w_ij`` for the other columns (``w_ij = 1`` when None). The positive's weight in
        the denominator is always 1, whatever is given.

    Returns
    -------
    Tensor, scalar
    """
    positive = None
    if log_weights is not None:
        positive = positive_mask(labels, logits.shape[1])
        logits = logits + log_weights.to(logits.dtype).masked_fill(positive, 0.0)
    if candidate_mask is not None:
        positive = positive_mask(labels, logits.shape[1]) if positive is None else positive
        logits = logits.masked_fill(candidate_mask.to(torch.bool) & ~positive, float("-inf"))
    return torch.nn.functional.cross_entropy(logits, labels)


@fill_doc
def clip_loss(queries: Tensor, candidates: Tensor, *, labels: Tensor | None = None,
              logit_scale: Tensor | float | None = None, normalize: str = "both", symmetric: bool = False,
              candidate_mask: Tensor | None = None) -> Tensor:
    """CLIP / InfoNCE cross-entropy of queries over candidates.

    ``loss = -mean_i log softmax_j(exp(logit_scale) * score(q_i, c_j))[labels_i]``, with
    ``score`` from :func:`clip_scores`.

    Parameters
    ----------
    queries : Tensor of shape (n, ...)
        This process's rows.
    candidates : Tensor of shape (m, ...)
        The columns; may be the batch gathered from every process.
    %(labels)s
    %(logit_scale)s
    %(normalize_mode)s
    symmetric : bool
        Average with the candidates-to-queries direction (over the columns of the same score
        matrix). Only for one aligned set: ``m == n`` and ``labels`` a permutation. Under
        data parallelism :class:`biocl.heads.losses.ClipLoss` builds that direction itself.
    candidate_mask : Tensor of shape (n, m), bool | None
        True excludes that candidate for that query (another copy of the query's positive,
        say); the positive is never excluded. The reverse direction uses the transpose.

    Returns
    -------
    Tensor, scalar
    """
    n, m = queries.shape[0], candidates.shape[0]
    labels = default_labels(labels, n, m, queries.device)
    with full_precision(queries):
        logits = clip_logits(queries, candidates, logit_scale=logit_scale, normalize=normalize)
        loss = contrastive_cross_entropy(logits, labels, candidate_mask=candidate_mask)
        if not symmetric:
            return loss
        if n != m or not bool((torch.bincount(labels, minlength=m) == 1).all()):
            raise ValueError("symmetric=True needs as many candidates as queries and labels that are a permutation")
        inverse = torch.empty_like(labels)
        inverse[labels] = torch.arange(n, device=labels.device)
        reverse_mask = None if candidate_mask is None else candidate_mask.T
        return 0.5 * (loss + contrastive_cross_entropy(logits.T, inverse, candidate_mask=reverse_mask))


@fill_doc
def tnce_log_weights(labels: Tensor, reverse_index: Tensor, a_same: float, a_cross: float) -> Tensor:
    """Log denominator weights ``log(1 + extra_ij)`` of the TNCE loss (see :func:`tnce_loss`).

    Parameters
    ----------
    labels : Tensor of shape (n,), long
        Column of each row's positive.
    reverse_index : Tensor of shape (m,), long
        Column holding the reversed-order version of each column, -1 where there is none.
    %(tnce_weights)s

    Returns
    -------
    Tensor of shape (n, m)
    """
    if 1.0 + a_same <= 0.0 or 1.0 + a_cross <= 0.0:
        raise ValueError(f"a_same and a_cross must exceed -1, got {a_same} and {a_cross}")
    reverse_index = reverse_index.to(device=labels.device, dtype=torch.long)
    ordered = reverse_index >= 0
    if bool((reverse_index[reverse_index[ordered]] != torch.nonzero(ordered).squeeze(1)).any()):
        raise ValueError("reverse_index must pair items both ways: reverse_index[reverse_index[t]] == t")
    n = labels.shape[0]
    extra = torch.zeros(n, reverse_index.shape[0], dtype=torch.float64, device=labels.device)
    extra[:, ordered] = a_cross
    rows = torch.arange(n, device=labels.device)
    own_reversal = reverse_index[labels]
    has_reversal = own_reversal >= 0
    extra[rows[has_reversal], own_reversal[has_reversal]] = a_same
    extra[rows, labels] = 0.0
    return torch.log1p(extra)


@fill_doc
def tnce_loss(queries: Tensor, candidates: Tensor, *, reverse_index: Tensor, a_same: float, a_cross: float,
              logit_scale: Tensor | float | None = None, normalize: bool = True, symmetric: bool = True,
              labels: Tensor | None = None) -> Tensor:
    """TeminAL B temporal NCE: reversed-order candidates are extra-weighted hard negatives.

    The batch stacks forward ("A before B"), reversed ("B before A") and overlapped
    ("A while B") versions of each pair; ``reverse_index`` pairs each forward item with its
    reversal (-1 for overlaps). With ``s(u, t) = exp(logit_scale) * cos(u, t)`` and ``t``
    the positive candidate of query ``u``, the paper writes

    ``l_u = -log(exp(s(u,t)) / (sum_t' exp(s(u,t')) + C_time + C_overlap))``,
    ``C_time = a_same exp(s(u, rev(t))) + a_cross sum_{t' != t} exp(s(u, rev(t')))``.

    How we read it: the plain sum already holds every column once, positive included, so
    ``C_time`` adds *extra* weight on top: ``a_same`` on the row's own reversal and
    ``a_cross`` on every other ordered (forward or reversed) column. The term
    ``t' = rev(t)``, whose reversal is the positive itself, is left out: counting the
    positive as a negative would penalise the right answer. The reference does not define
    ``C_overlap``, so it is zero here; overlaps are plain negatives. In short,
    ``denominator = sum_t' (1 + extra(u, t')) exp(s(u, t'))`` with ``extra`` from
    :func:`tnce_log_weights`. Unlike the authors' raw dot products, embeddings are
    L2-normalised and scaled by a (learnable) logit scale.

    Parameters
    ----------
    %(queries)s
    %(candidates)s
    reverse_index : Tensor of shape (m,), long
        Column of each candidate's reversed-order version, -1 where there is none.
    %(tnce_weights)s
    %(logit_scale)s
    normalize : bool
        L2-normalise both embeddings (False reproduces the authors' raw dot products).
    symmetric : bool
        Average with the candidates-to-queries direction. Only for one aligned set
        (``m == n``, ``labels`` None); :class:`biocl.heads.losses.TNCELoss` handles the
        gathered case.
    %(labels)s

    Returns
    -------
    Tensor, scalar
    """
    n, m = queries.shape[0], candidates.shape[0]
    if symmetric and (labels is not None or n != m):
        raise ValueError("symmetric=True needs one aligned set: as many candidates as queries and labels=None")
    if reverse_index.shape != (m,):
        raise ValueError(f"reverse_index must have shape ({m},), got {tuple(reverse_index.shape)}")
    labels = default_labels(labels, n, m, queries.device)
    log_weights = tnce_log_weights(labels, reverse_index, a_same, a_cross)
    mode = "both" if normalize else "none"
    with full_precision(queries):
        logits = scaled(clip_scores(queries, candidates, normalize=mode), logit_scale)
        loss = contrastive_cross_entropy(logits, labels, log_weights=log_weights)
        if not symmetric:
            return loss
        # Aligned set: candidate j's query is row j, so query columns share the candidates' layout.
        return 0.5 * (loss + contrastive_cross_entropy(logits.T, labels, log_weights=log_weights))


@fill_doc
def info_nce(queries: Tensor, keys: Tensor, queue: Tensor | None = None, *, tau: float = 0.07,
             normalize: bool = True) -> Tensor:
    """MoCo-style InfoNCE: each query against its key and a queue of negatives.

    Parameters
    ----------
    queries : Tensor of shape (n, d)
        Online-encoder embeddings.
    keys : Tensor of shape (n, d)
        Momentum-encoder embeddings; ``keys[i]`` is the positive of ``queries[i]``.
    queue : Tensor of shape (K, d) | None
        Negatives (MoCo v1/v2: the other in-batch keys are not used). When None the other
        in-batch keys are the negatives (MoCo v3).
    %(tau)s
    normalize : bool
        L2-normalise queries, keys and queue first.

    Returns
    -------
    Tensor, scalar
    """
    if queue is None:
        return clip_loss(queries, keys, logit_scale=-math.log(tau), normalize="both" if normalize else "none")
    with full_precision(queries):
        q, k, negatives = (upcast(t.flatten(1)) for t in (queries, keys, queue))
        if normalize:
            q, k, negatives = (torch.nn.functional.normalize(t, dim=1) for t in (q, k, negatives))
        logits = torch.cat([(q * k).sum(dim=1, keepdim=True), q @ negatives.to(q.dtype).T], dim=1) / tau
        return torch.nn.functional.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))
