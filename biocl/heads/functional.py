"""Contrastive losses as pure functions: the rows you own against the columns you give.

Every function takes the rows this process owns (queries, anchors) and the columns to score
them against (candidates, positives). The columns may be the batch gathered from every
process; ``labels`` then give, for each row, the *global* column index of its positive
(:func:`biocl.heads.distributed.rank_offset_labels`). Nothing here touches a process
group: :mod:`biocl.heads.losses` gathers and offsets. Each loss is the mean over the given
rows, the convention :mod:`biocl.heads.distributed` shows to be exact under DDP.

Numerics: log-probabilities come from ``cross_entropy`` / ``logsumexp`` (never ``exp``
then ``log``); half-precision inputs are promoted to float32 and autocast is disabled while
scoring, so a large logit scale cannot overflow; float64 stays float64 (the tests compare
with plain-loop references at 1e-10).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "NORMALIZE_MODES", "clip_scores", "clip_logits", "contrastive_cross_entropy", "clip_loss", "weighted_infonce",
    "mimix_loss", "tnce_log_weights", "tnce_loss", "dcl_loss", "supcon_loss", "info_nce",
]

NORMALIZE_MODES = ("both", "candidates", "none")


@contextlib.contextmanager
def _full_precision(x: Tensor) -> Iterator[None]:
    with torch.autocast(device_type=x.device.type, enabled=False):
        yield


def _upcast(x: Tensor) -> Tensor:
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _scaled(scores: Tensor, logit_scale: Tensor | float | None) -> Tensor:
    if logit_scale is None:
        return scores
    return scores * torch.as_tensor(logit_scale, dtype=scores.dtype, device=scores.device).exp()


def _default_labels(labels: Tensor | None, n: int, m: int, device: torch.device) -> Tensor:
    if labels is None:
        if n > m:
            raise ValueError(f"{n} rows but only {m} columns: pass labels saying which column is each row's positive")
        return torch.arange(n, device=device)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    return labels.to(device=device, dtype=torch.long)


def _positive_mask(labels: Tensor, m: int) -> Tensor:
    return F.one_hot(labels, m).bool()


def clip_scores(queries: Tensor, candidates: Tensor, *, normalize: str = "both") -> Tensor:
    """Similarity of every query with every candidate.

    Parameters
    ----------
    queries : Tensor of shape (n, ...)
        Query embeddings; trailing dimensions are flattened, so a brain output of shape
        (n, channels, time) is scored over channels x time as in brainmagick.
    candidates : Tensor of shape (m, ...)
        Candidate embeddings, flattened the same way.
    normalize : {"both", "candidates", "none"}
        ``"both"``: cosine similarity (CLIP). ``"candidates"``: ``<q_i, c_j> / ||c_j||``,
        the query left as is (brainmagick). ``"none"``: raw dot products.

    Returns
    -------
    Tensor of shape (n, m)
    """
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"normalize must be one of {NORMALIZE_MODES}, got {normalize!r}")
    q = _upcast(queries.flatten(1))
    c = _upcast(candidates.flatten(1))
    if normalize == "both":
        q = F.normalize(q, dim=1)
    if normalize in ("both", "candidates"):
        c = F.normalize(c, dim=1)
    return q @ c.T


def clip_logits(queries: Tensor, candidates: Tensor, *, logit_scale: Tensor | float | None = None,
                normalize: str = "both") -> Tensor:
    """:func:`clip_scores` times ``exp(logit_scale)`` (unscaled when None), in float32 at least.

    Computed with autocast disabled, so half-precision embeddings cannot overflow.
    """
    with _full_precision(queries):
        return _scaled(clip_scores(queries, candidates, normalize=normalize), logit_scale)


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
        positive = _positive_mask(labels, logits.shape[1])
        logits = logits + log_weights.to(logits.dtype).masked_fill(positive, 0.0)
    if candidate_mask is not None:
        positive = _positive_mask(labels, logits.shape[1]) if positive is None else positive
        logits = logits.masked_fill(candidate_mask.to(torch.bool) & ~positive, float("-inf"))
    return F.cross_entropy(logits, labels)


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
    labels : Tensor of shape (n,), long | None
        Column of each query's positive; ``arange(n)`` when None.
    logit_scale : Tensor | float | None
        The *log* of the scale multiplying the scores (``exp(logit_scale)``); None uses the
        raw scores (brainmagick has no temperature).
    normalize : {"both", "candidates", "none"}
        See :func:`clip_scores`.
    symmetric : bool
        Average with the candidates-to-queries direction (over the columns of the same score
        matrix). Only for one aligned set: ``m == n`` and ``labels`` a permutation. Under
        data parallelism :class:`biocl.heads.losses.ClipLoss` builds that direction itself.
    candidate_mask : Tensor of shape (n, m), bool | None
        True excludes that candidate for that query (the same speech segment heard by
        another subject, say); the positive is never excluded. The reverse direction uses
        the transpose.

    Returns
    -------
    Tensor, scalar
    """
    n, m = queries.shape[0], candidates.shape[0]
    labels = _default_labels(labels, n, m, queries.device)
    with _full_precision(queries):
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
    labels = _default_labels(labels, n, n_all, z1.device)
    rows = _upcast(torch.cat([z1, z2]).flatten(1))
    columns = _upcast(torch.cat([z1_all, z2_all]).flatten(1))
    if normalize:
        rows, columns = F.normalize(rows, dim=1), F.normalize(columns, dim=1)
    logits = rows @ columns.T / tau
    self_columns = torch.cat([labels, labels + n_all])
    positive_columns = torch.cat([labels + n_all, labels])
    return logits, self_columns, positive_columns


def _negatives_only(logits: Tensor, *excluded_columns: Tensor) -> Tensor:
    """``logits`` with each row's excluded columns set to -inf."""
    excluded = torch.zeros_like(logits, dtype=torch.bool)
    rows = torch.arange(logits.shape[0], device=logits.device)
    for columns in excluded_columns:
        excluded[rows, columns] = True
    return logits.masked_fill(excluded, float("-inf"))


def _log_hard_negative_mass(negative_logits: Tensor, n_negatives: int) -> Tensor:
    """``log sum_k exp(2 s_k) / mean_k exp(s_k)`` = ``log sum_k K softmax(s)_k exp(s_k)``, per row."""
    return (torch.logsumexp(2.0 * negative_logits, dim=1) - torch.logsumexp(negative_logits, dim=1)
            + math.log(n_negatives))


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
    tau : float
        Temperature (DNABERT-S: 0.05).
    normalize : bool
        L2-normalise the embeddings first (idempotent after a normalising head).

    Returns
    -------
    Tensor, scalar
    """
    with _full_precision(z1):
        logits, self_columns, positive_columns = _two_view_logits(z1, z2, z1_all, z2_all, labels, offset, tau,
                                                                  normalize)
        n_negatives = logits.shape[1] - 2
        if n_negatives < 1:
            raise ValueError("weighted_infonce needs at least two pairs in the (global) batch")
        rows = torch.arange(logits.shape[0], device=logits.device)
        positive = logits[rows, positive_columns]
        log_mass = _log_hard_negative_mass(_negatives_only(logits, self_columns, positive_columns), n_negatives)
        return -(positive - torch.logaddexp(positive, log_mass)).mean()


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
    lam : Tensor of shape (n,)
        Mixing weight of each anchor's own sample, in [0.5, 1].
    mix_index : Tensor of shape (n,), long
        *Global* column of the positive each anchor was mixed with
        (:class:`biocl.heads.losses.MIMixLoss` offsets the local permutation).
    labels : Tensor of shape (n,), long | None
        Global column of each anchor's own positive; ``arange(n)`` when None.
    tau : float
        Temperature (DNABERT-S: 0.05).
    normalize : bool
        L2-normalise the embeddings first.

    Returns
    -------
    Tensor, scalar
    """
    n, m = z_mixed.shape[0], z_pos.shape[0]
    if m < 2:
        raise ValueError("mimix_loss needs at least two positives")
    labels = _default_labels(labels, n, m, z_mixed.device)
    with _full_precision(z_mixed):
        mode = "both" if normalize else "none"
        logits = clip_scores(z_mixed, z_pos, normalize=mode) / tau
        rows = torch.arange(n, device=logits.device)
        own = logits[rows, labels]
        mixed_with = logits[rows, mix_index.to(device=logits.device, dtype=torch.long)]
        log_denominator = torch.logaddexp(own, _log_hard_negative_mass(_negatives_only(logits, labels), m - 1))
        lam = lam.to(logits.dtype)
        return -(lam * (own - log_denominator) + (1.0 - lam) * (mixed_with - log_denominator)).mean()


def tnce_log_weights(labels: Tensor, reverse_index: Tensor, a_same: float, a_cross: float) -> Tensor:
    """Log denominator weights ``log(1 + extra_ij)`` of the TNCE loss (see :func:`tnce_loss`).

    Parameters
    ----------
    labels : Tensor of shape (n,), long
        Column of each row's positive.
    reverse_index : Tensor of shape (m,), long
        Column holding the reversed-order version of each column, -1 where there is none.
    a_same, a_cross : float
        Extra weight of the row's own reversal, and of every other ordered column.

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


def tnce_loss(audio: Tensor, text: Tensor, *, reverse_index: Tensor, a_same: float, a_cross: float,
              logit_scale: Tensor | float | None = None, normalize: bool = True, symmetric: bool = True,
              labels: Tensor | None = None) -> Tensor:
    """TeminAL B temporal NCE: reversed-order captions are extra-weighted hard negatives.

    The batch stacks forward ("A before B"), reversed ("B before A") and overlapped
    ("A while B") versions of each pair; ``reverse_index`` pairs each forward item with its
    reversal (-1 for overlaps). With ``s(u, t) = exp(logit_scale) * cos(u, t)`` and ``t``
    the caption of audio row ``u``, the paper writes

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
    audio : Tensor of shape (n, d)
        Audio embeddings (this process's rows).
    text : Tensor of shape (m, d)
        Caption embeddings (may be gathered from every process).
    reverse_index : Tensor of shape (m,), long
        Column of each caption's reversed-order version, -1 where there is none.
    a_same, a_cross : float
        Extra denominator weight of the row's own reversal and of every other ordered column.
    logit_scale : Tensor | float | None
        Log of the scale multiplying cosine similarities; None uses them as they are.
    normalize : bool
        L2-normalise both embeddings (False reproduces the authors' raw dot products).
    symmetric : bool
        Average with the caption-to-audio direction. Only for one aligned set (``m == n``,
        ``labels`` None); :class:`biocl.heads.losses.TNCELoss` handles the gathered case.
    labels : Tensor of shape (n,), long | None
        Global column of each row's caption; ``arange(n)`` when None.

    Returns
    -------
    Tensor, scalar
    """
    n, m = audio.shape[0], text.shape[0]
    if symmetric and (labels is not None or n != m):
        raise ValueError("symmetric=True needs one aligned set: as many captions as audio rows and labels=None")
    if reverse_index.shape != (m,):
        raise ValueError(f"reverse_index must have shape ({m},), got {tuple(reverse_index.shape)}")
    labels = _default_labels(labels, n, m, audio.device)
    log_weights = tnce_log_weights(labels, reverse_index, a_same, a_cross)
    mode = "both" if normalize else "none"
    with _full_precision(audio):
        logits = _scaled(clip_scores(audio, text, normalize=mode), logit_scale)
        loss = contrastive_cross_entropy(logits, labels, log_weights=log_weights)
        if not symmetric:
            return loss
        # Aligned set: caption j's audio is row j, and audio columns share the caption layout.
        return 0.5 * (loss + contrastive_cross_entropy(logits.T, labels, log_weights=log_weights))


def dcl_loss(z1: Tensor, z2: Tensor, *, tau: float = 0.1, z1_all: Tensor | None = None,
             z2_all: Tensor | None = None, labels: Tensor | None = None, offset: int = 0,
             normalize: bool = True) -> Tensor:
    """Decoupled contrastive loss (Yeh et al. 2022): the positive leaves the denominator.

    Same views and negatives as :func:`weighted_infonce` (``2N - 2`` per anchor), unweighted:
    ``l_a = -s_ap + log sum_k exp(s_ak)``, ``s = cos / tau``; mean over the ``2n`` anchors.
    With all similarities equal it is ``log(2N - 2)``. Parameters as in
    :func:`weighted_infonce`.
    """
    with _full_precision(z1):
        logits, self_columns, positive_columns = _two_view_logits(z1, z2, z1_all, z2_all, labels, offset, tau,
                                                                  normalize)
        if logits.shape[1] < 3:
            raise ValueError("dcl_loss needs at least two pairs in the (global) batch")
        rows = torch.arange(logits.shape[0], device=logits.device)
        negatives = _negatives_only(logits, self_columns, positive_columns)
        return (torch.logsumexp(negatives, dim=1) - logits[rows, positive_columns]).mean()


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
    tau : float
        Temperature.
    mask : Tensor of shape (n, N), bool | None
        Alternative to ``labels``: True where global sample ``j`` is a positive of local
        sample ``i`` (the sample itself always is).
    features_all, labels_all : Tensor | None
        Samples gathered from every process (``features``, ``labels`` when None).
    sample_index : Tensor of shape (n,), long | None
        Global index of each local sample; ``arange(n) + offset`` when None.
    offset : int
        See ``sample_index``.
    normalize : bool
        L2-normalise the embeddings first.

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
    with _full_precision(features):
        rows = _upcast(features.transpose(0, 1).reshape(n_views * n, -1))
        columns = _upcast(features_all.transpose(0, 1).reshape(n_views * n_all, -1))
        if normalize:
            rows, columns = F.normalize(rows, dim=1), F.normalize(columns, dim=1)
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
        log_prob = logits - torch.logsumexp(_negatives_only(logits, self_columns), dim=1, keepdim=True)
        n_positives = positives.sum(dim=1)
        has_positive = n_positives > 0
        if not bool(has_positive.any()):
            raise ValueError("supcon_loss: no anchor has a positive (one view and no shared labels)")
        per_anchor = -(log_prob * positives).sum(dim=1)[has_positive] / n_positives[has_positive]
        return per_anchor.mean()


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
    tau : float
        Temperature.
    normalize : bool
        L2-normalise queries, keys and queue first.

    Returns
    -------
    Tensor, scalar
    """
    if queue is None:
        return clip_loss(queries, keys, logit_scale=-math.log(tau), normalize="both" if normalize else "none")
    with _full_precision(queries):
        q, k, negatives = (_upcast(t.flatten(1)) for t in (queries, keys, queue))
        if normalize:
            q, k, negatives = (F.normalize(t, dim=1) for t in (q, k, negatives))
        logits = torch.cat([(q * k).sum(dim=1, keepdim=True), q @ negatives.to(q.dtype).T], dim=1) / tau
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))
