"""Contrastive loss modules: the state (logit scale) and the gathering across processes.

Each module scores this process's rows against the columns of every process when
``gather=True`` and a process group with more than one process is running (local rows x
global columns), takes its labels from :func:`biocl.heads.distributed.rank_offset_labels`
and offsets every local index (mixing permutation, reversal index) the same way. It returns
the mean over *local* rows: with DDP's gradient averaging this gives exactly the gradients
of the whole-batch loss (the argument is in :mod:`biocl.heads.distributed`). The
mathematics lives in :mod:`biocl.heads.functional`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from biocl.heads import functional
from biocl.heads.distributed import (gather_no_grad, gather_with_grad, is_distributed, offset_local_index,
                                     rank_offset_labels)
from biocl.utils.docs import fill_doc

__all__ = ["CLIP_LOG_SCALE", "MAX_LOG_SCALE", "LogitScale", "ClipLoss", "WeightedInfoNCELoss", "MIMixLoss",
           "TNCELoss", "DCLLoss", "SupConLoss"]

#: CLIP / CLAP initial log scale, ``log(1 / 0.07)`` (temperature 0.07).
CLIP_LOG_SCALE = math.log(1 / 0.07)
#: Upper clamp of the log scale, ``ln 100`` (scale at most 100).
MAX_LOG_SCALE = math.log(100)


class LogitScale(nn.Module):
    """The log of the scale multiplying similarities, clamped to ``[0, max_log]``.

    Parameters
    ----------
    init : float
        Initial log scale (CLIP / CLAP: ``log(1 / 0.07)``).
    learnable : bool
        A parameter (trained, averaged by DDP like any other) or a fixed buffer.
    max_log : float
        Upper clamp (CLIP: ``ln 100``); the lower clamp is 0 (scale 1).

    Notes
    -----
    ``forward`` returns ``clamp(raw, 0, max_log)``: outside the range the gradient is zero,
    as with ``torch.clamp``. A trainer that wants the raw value kept in range too (open_clip
    clamps after each optimiser step) calls :meth:`clamp_`.
    """

    def __init__(self, init: float = CLIP_LOG_SCALE, learnable: bool = True, max_log: float = MAX_LOG_SCALE):
        super().__init__()
        if not 0.0 <= init <= max_log:
            raise ValueError(f"init log scale {init} is outside [0, {max_log}]")
        self.max_log = float(max_log)
        value = torch.tensor(float(init))
        if learnable:
            self.log_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_scale", value)

    def forward(self) -> Tensor:
        """The clamped log scale, a scalar tensor."""
        return self.log_scale.clamp(0.0, self.max_log)

    @torch.no_grad()
    def clamp_(self) -> None:
        """Clamp the stored value in place (call after the optimiser step)."""
        self.log_scale.clamp_(0.0, self.max_log)

    def extra_repr(self) -> str:
        return f"log_scale={float(self.log_scale.detach()):.4f}, max_log={self.max_log:.4f}"


def _gathering(gather: bool) -> bool:
    return gather and is_distributed()


@fill_doc
class ClipLoss(nn.Module):
    """CLIP / InfoNCE loss with optional logit scale, masking and gathered negatives.

    Parameters
    ----------
    %(normalize_mode)s
    symmetric : bool
        Average queries-to-candidates with candidates-to-queries.
    learnable_scale : bool
        Learn the logit scale (a :class:`LogitScale` parameter).
    init_log_scale : float | None
        Initial (or fixed) log scale; None uses the raw scores (brainmagick: no temperature).
    %(gather)s
        When symmetric, the queries are gathered too.
    """

    def __init__(self, normalize: str = "both", symmetric: bool = False, learnable_scale: bool = False,
                 init_log_scale: float | None = CLIP_LOG_SCALE, gather: bool = True):
        super().__init__()
        if normalize not in functional.NORMALIZE_MODES:
            raise ValueError(f"normalize must be one of {functional.NORMALIZE_MODES}, got {normalize!r}")
        if init_log_scale is None and learnable_scale:
            raise ValueError("a learnable logit scale needs init_log_scale")
        self.normalize = normalize
        self.symmetric = symmetric
        self.gather = gather
        self.logit_scale = None if init_log_scale is None else LogitScale(init_log_scale, learnable=learnable_scale)

    def forward(self, queries: Tensor, candidates: Tensor, *, candidate_ids: Tensor | None = None) -> Tensor:
        """Loss of this process's queries against all candidates.

        Parameters
        ----------
        queries : Tensor of shape (n, ...)
            Row ``i``'s positive is ``candidates[i]``.
        candidates : Tensor of shape (n, ...)
            This process's candidates, row-aligned with the queries.
        candidate_ids : Tensor of shape (n,), long | None
            An id per pair (the item a candidate stands for): candidates sharing the id of a
            row's own positive are not counted as that row's negatives (the same item paired
            with another query). Gathered with the candidates.

        Returns
        -------
        Tensor, scalar
        """
        n = queries.shape[0]
        if candidates.shape[0] != n:
            raise ValueError(f"ClipLoss needs one candidate per query, got {n} queries and {candidates.shape[0]}")
        distributed = _gathering(self.gather)
        labels = rank_offset_labels(n, device=queries.device) if distributed else None
        all_candidates = gather_with_grad(candidates) if distributed else candidates
        mask = reverse_mask = None
        if candidate_ids is not None:
            all_ids = gather_no_grad(candidate_ids) if distributed else candidate_ids
            mask = candidate_ids[:, None] == all_ids[None, :]
            reverse_mask = mask
        scale = None if self.logit_scale is None else self.logit_scale()
        if not distributed:
            return functional.clip_loss(queries, candidates, logit_scale=scale, normalize=self.normalize,
                                        symmetric=self.symmetric, candidate_mask=mask)
        loss = functional.clip_loss(queries, all_candidates, labels=labels, logit_scale=scale,
                                    normalize=self.normalize, candidate_mask=mask)
        if not self.symmetric:
            return loss
        # Local candidates as rows against every query, from the same score function.
        all_queries = gather_with_grad(queries)
        reverse_logits = functional.clip_logits(all_queries, candidates, logit_scale=scale,
                                                normalize=self.normalize).T
        reverse = functional.contrastive_cross_entropy(reverse_logits, labels, candidate_mask=reverse_mask)
        return 0.5 * (loss + reverse)


class _TwoViewLoss(nn.Module):
    """A two-view loss whose negatives are every process's views when gathering."""

    def __init__(self, tau: float, gather: bool = True):
        super().__init__()
        self.tau = tau
        self.gather = gather

    @staticmethod
    def loss_function(z1: Tensor, z2: Tensor, **kwargs: object) -> Tensor:
        raise NotImplementedError

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Loss of this process's ``2n`` views; ``z1[i]`` and ``z2[i]`` are a positive pair."""
        if not _gathering(self.gather):
            return self.loss_function(z1, z2, tau=self.tau)
        labels = rank_offset_labels(z1.shape[0], device=z1.device)
        return self.loss_function(z1, z2, z1_all=gather_with_grad(z1), z2_all=gather_with_grad(z2), labels=labels,
                                  tau=self.tau)


@fill_doc
class WeightedInfoNCELoss(_TwoViewLoss):
    """DNABERT-S phase I weighted SimCLR (:func:`biocl.heads.functional.weighted_infonce`).

    Parameters
    ----------
    %(tau)s
    %(gather)s
    """

    loss_function = staticmethod(functional.weighted_infonce)

    def __init__(self, tau: float = 0.05, gather: bool = True):
        super().__init__(tau, gather)


@fill_doc
class MIMixLoss(nn.Module):
    """DNABERT-S phase II MI-Mix loss (:func:`biocl.heads.functional.mimix_loss`).

    The permutation used for mixing is local to each process; this module turns it into
    global column indices before indexing the gathered positives (the DNABERT-S flaw).

    Parameters
    ----------
    %(tau)s
    %(gather)s
    """

    def __init__(self, tau: float = 0.05, gather: bool = True):
        super().__init__()
        self.tau = tau
        self.gather = gather

    @fill_doc
    def forward(self, z_mixed: Tensor, z_pos: Tensor, lam: Tensor, mix_index_local: Tensor) -> Tensor:
        """Loss of this process's mixed anchors.

        Parameters
        ----------
        z_mixed : Tensor of shape (n, d)
            Anchors computed from mixed hidden states.
        z_pos : Tensor of shape (n, d)
            Unmixed positive views, row-aligned with the anchors.
        %(lam)s
        mix_index_local : Tensor of shape (n,), long
            The local permutation the mixing used.
        """
        if not _gathering(self.gather):
            return functional.mimix_loss(z_mixed, z_pos, lam, mix_index_local, tau=self.tau)
        n = z_mixed.shape[0]
        labels = rank_offset_labels(n, device=z_mixed.device)
        mix_index = offset_local_index(mix_index_local.to(z_mixed.device), n)
        return functional.mimix_loss(z_mixed, gather_with_grad(z_pos), lam, mix_index, labels=labels,
                                     tau=self.tau)


@fill_doc
class TNCELoss(nn.Module):
    """TeminAL B temporal NCE loss (:func:`biocl.heads.functional.tnce_loss`).

    Parameters
    ----------
    %(tnce_weights)s
    learnable_scale : bool
        Learn the logit scale (initialised at ``log(1 / 0.07)``, clamped to ``[0, ln 100]``).
    init_log_scale : float
        Initial (or fixed) log scale.
    symmetric : bool
        Average queries-to-candidates with candidates-to-queries.
    %(gather)s
    """

    def __init__(self, a_same: float, a_cross: float, learnable_scale: bool = True,
                 init_log_scale: float = CLIP_LOG_SCALE, symmetric: bool = True, gather: bool = True):
        super().__init__()
        self.a_same = float(a_same)
        self.a_cross = float(a_cross)
        self.symmetric = symmetric
        self.gather = gather
        self.logit_scale = LogitScale(init_log_scale, learnable=learnable_scale)

    def forward(self, queries: Tensor, candidates: Tensor, reverse_index_local: Tensor) -> Tensor:
        """Loss of this process's ``3n`` query rows (and candidate rows when symmetric).

        Parameters
        ----------
        queries, candidates : Tensor of shape (3n, d)
            Row-aligned embeddings, ``candidates[i]`` the positive of ``queries[i]``
            (forward, reversed and overlapped versions of ``n`` pairs, in any order).
        reverse_index_local : Tensor of shape (3n,), long
            Local row of each item's reversed-order version, -1 where there is none.
        """
        scale = self.logit_scale()
        kwargs = dict(a_same=self.a_same, a_cross=self.a_cross, logit_scale=scale)
        if not _gathering(self.gather):
            return functional.tnce_loss(queries, candidates, reverse_index=reverse_index_local,
                                        symmetric=self.symmetric, **kwargs)
        n = queries.shape[0]
        labels = rank_offset_labels(n, device=queries.device)
        reverse_index = gather_no_grad(offset_local_index(reverse_index_local.to(queries.device), n))
        loss = functional.tnce_loss(queries, gather_with_grad(candidates), reverse_index=reverse_index, labels=labels,
                                    symmetric=False, **kwargs)
        if not self.symmetric:
            return loss
        # Query columns share the candidates' layout, so the same reversal index applies.
        reverse = functional.tnce_loss(candidates, gather_with_grad(queries), reverse_index=reverse_index,
                                       labels=labels, symmetric=False, **kwargs)
        return 0.5 * (loss + reverse)


@fill_doc
class DCLLoss(_TwoViewLoss):
    """Decoupled contrastive loss (:func:`biocl.heads.functional.dcl_loss`).

    Parameters
    ----------
    %(tau)s
    %(gather)s
    """

    loss_function = staticmethod(functional.dcl_loss)

    def __init__(self, tau: float = 0.1, gather: bool = True):
        super().__init__(tau, gather)


@fill_doc
class SupConLoss(nn.Module):
    """Supervised contrastive loss (:func:`biocl.heads.functional.supcon_loss`).

    Parameters
    ----------
    %(tau)s
    %(gather)s
    """

    def __init__(self, tau: float = 0.1, gather: bool = True):
        super().__init__()
        self.tau = tau
        self.gather = gather

    def forward(self, features: Tensor, labels: Tensor | None = None) -> Tensor:
        """Loss of this process's samples.

        Parameters
        ----------
        features : Tensor of shape (n, V, d)
            ``V`` views of each sample.
        labels : Tensor of shape (n,) | None
            Class of each sample; without labels the loss is SimCLR's NT-Xent.
        """
        if not _gathering(self.gather):
            return functional.supcon_loss(features, labels, tau=self.tau)
        n = features.shape[0]
        sample_index = rank_offset_labels(n, device=features.device)
        labels_all = None if labels is None else gather_no_grad(labels)
        return functional.supcon_loss(features, labels, tau=self.tau, features_all=gather_with_grad(features),
                                      labels_all=labels_all, sample_index=sample_index)
