"""The shared contrastive part: losses, gathering across processes, mixing, queues, projections.

Nothing here knows a modality: arguments are named by their role (queries and candidates,
two views, anchors and positives). Pure loss functions live in :mod:`biocl.heads.functional`
(local rows x given columns, one module per family), loss modules with state (logit scale,
gathering) in :mod:`biocl.heads.losses`, the exact distributed gather and label offsets in
:mod:`biocl.heads.distributed`, MI-Mix in :mod:`biocl.heads.mixing`, the MoCo queue in
:mod:`biocl.heads.queue` and projection heads in :mod:`biocl.heads.projection`.
"""

from biocl.heads.distributed import (gather_no_grad, gather_with_grad, is_distributed, offset_local_index,
                                     rank_offset_labels, world_info)
from biocl.heads.functional import (clip_logits, clip_loss, clip_scores, contrastive_cross_entropy, dcl_loss,
                                    info_nce, mimix_loss, supcon_loss, tnce_log_weights, tnce_loss,
                                    weighted_infonce)
from biocl.heads.losses import ClipLoss, DCLLoss, LogitScale, MIMixLoss, SupConLoss, TNCELoss, WeightedInfoNCELoss
from biocl.heads.mixing import mix_hidden, sample_layer, sample_mix
from biocl.heads.projection import ProjectionHead
from biocl.heads.queue import MomentumQueue, momentum_update

__all__ = [
    # functional
    "clip_scores", "clip_logits", "contrastive_cross_entropy", "clip_loss", "tnce_log_weights", "tnce_loss", "info_nce",
    "weighted_infonce", "mimix_loss", "dcl_loss", "supcon_loss",
    # distributed
    "world_info", "is_distributed", "gather_with_grad", "gather_no_grad", "rank_offset_labels",
    "offset_local_index",
    # modules
    "LogitScale", "ClipLoss", "WeightedInfoNCELoss", "MIMixLoss", "TNCELoss", "DCLLoss", "SupConLoss",
    # mixing, queues, projections
    "sample_mix", "mix_hidden", "sample_layer", "MomentumQueue", "momentum_update", "ProjectionHead",
]
