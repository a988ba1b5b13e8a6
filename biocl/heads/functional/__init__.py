"""Contrastive losses as pure functions: the rows you own against the columns you give.

Every function takes the rows this process owns (queries, anchors) and the columns to score
them against (candidates, positives). The columns may be the batch gathered from every
process; ``labels`` then give, for each row, the *global* column index of its positive
(:func:`biocl.heads.distributed.rank_offset_labels`). Nothing here touches a process
group: :mod:`biocl.heads.losses` gathers and offsets. Each loss is the mean over the given
rows, the convention :mod:`biocl.heads.distributed` shows to be exact under DDP.

One module per family, as torchaudio's and lightly's ``functional`` packages are laid out;
this namespace is the public one:

- :mod:`~biocl.heads.functional.clip`: each query against candidates (CLIP / InfoNCE,
  TeminAL's TNCE, MoCo's InfoNCE with a queue);
- :mod:`~biocl.heads.functional.two_view`: both views of each pair are anchors (DNABERT-S's
  weighted SimCLR and MI-Mix, DCL);
- :mod:`~biocl.heads.functional.supervised`: positives from labels (SupCon).

Numerics (shared in ``_numerics``): log-probabilities come from ``cross_entropy`` /
``logsumexp`` (never ``exp`` then ``log``); half-precision inputs are promoted to float32
and autocast is disabled while scoring, so a large logit scale cannot overflow; float64
stays float64 (the tests compare with plain-loop references at 1e-10).
"""

from biocl.heads.functional.clip import (NORMALIZE_MODES, clip_logits, clip_loss, clip_scores,
                                         contrastive_cross_entropy, info_nce, tnce_log_weights, tnce_loss)
from biocl.heads.functional.supervised import supcon_loss
from biocl.heads.functional.two_view import dcl_loss, mimix_loss, weighted_infonce

__all__ = [
    "NORMALIZE_MODES", "clip_scores", "clip_logits", "contrastive_cross_entropy", "clip_loss", "tnce_log_weights",
    "tnce_loss", "info_nce", "weighted_infonce", "mimix_loss", "dcl_loss", "supcon_loss",
]
