"""Which sentences train, validate and test: a hash of the sentence, the same for every subject.

Défossez et al. 2023 assign each sentence to train / valid / test (70 / 10 / 20) by a hash
of its text, so that a sentence heard by several subjects is in one split for all of them
and no held-out speech is ever trained on.
"""

from __future__ import annotations

import hashlib

import numpy as np

from biocl.utils.errors import BioclError

__all__ = ["SPLITS", "sentence_split", "assign_splits"]

SPLITS = ("train", "valid", "test")


def _unit_hash(key: str) -> float:
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def sentence_split(key: str, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)) -> str:
    """The split of one sentence from its hash alone (the paper's assignment)."""
    value = _unit_hash(key)
    cut_train, cut_valid = fractions[0], fractions[0] + fractions[1]
    return "train" if value < cut_train else ("valid" if value < cut_valid else "test")


def assign_splits(keys: list[str], fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
                  method: str = "rank") -> dict[str, str]:
    """Map each distinct sentence key to ``train``, ``valid`` or ``test``.

    Parameters
    ----------
    keys : list of str
        Sentence ids (a hash of the text, the same for every subject).
    fractions : tuple of float
        Train, valid and test shares; they must sum to 1.
    method : {"rank", "hash"}
        ``hash`` buckets each sentence by its hash alone (the paper); ``rank`` orders the
        data set's sentences by hash and cuts at the fractions, giving exact shares on small
        data sets (see :class:`biocl.data.meg.windows.WindowConfig`).

    Returns
    -------
    dict
        Sentence key to split; every key gets exactly one split.
    """
    if not np.isclose(sum(fractions), 1.0) or min(fractions) < 0:
        raise BioclError(f"split fractions {fractions} must be non-negative and sum to 1",
                         hint="set data.split_fractions")
    distinct = sorted(set(keys))
    if method == "hash":
        return {key: sentence_split(key, fractions) for key in distinct}
    if method != "rank":
        raise ValueError(f"unknown split method {method!r}")
    ordered = sorted(distinct, key=_unit_hash)
    n = len(ordered)
    n_train = int(round(fractions[0] * n))
    n_valid = int(round((fractions[0] + fractions[1]) * n)) - n_train
    # Small data sets must still hold out something: one sentence each when fractions ask for it.
    if n >= 3:
        n_valid = max(n_valid, 1 if fractions[1] > 0 else 0)
        n_train = min(n_train, n - n_valid - (1 if fractions[2] > 0 else 0))
    splits = {}
    for rank, key in enumerate(ordered):
        splits[key] = "train" if rank < n_train else ("valid" if rank < n_train + n_valid else "test")
    return splits
