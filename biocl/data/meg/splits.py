"""Which sentences train, validate and test: a hash of the sentence, the same for every subject.

Défossez et al. 2023 merge consecutive sentences into blocks of at least 6 s
(:func:`sentence_blocks`) and assign each block to train / valid / test (70 / 10 / 20) by
a hash of its text, so that a sentence heard by several subjects is in one split for all
of them and no held-out speech is ever trained on. On story-length stimuli (MEG-MASC) the
blocks keep neighbouring sentences of one sound file together; with one sentence per file
every sentence is its own block, keyed by its own id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from biocl.utils.errors import BioclError

__all__ = ["SPLITS", "MIN_BLOCK_S", "sentence_split", "assign_splits", "sentence_blocks", "block_splits"]

SPLITS = ("train", "valid", "test")
#: Shortest block of consecutive sentences assigned to one split, in seconds (the paper's).
MIN_BLOCK_S = 6.0


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


def sentence_blocks(events: Iterable[Any], min_block_s: float = MIN_BLOCK_S) -> dict[str, str]:
    """Merge consecutive sentences of each sound file into blocks of at least ``min_block_s``.

    Parameters
    ----------
    events : iterable of WordEvent
        Every word event of the data set (``sentence_id``, ``sound_file``,
        ``sound_onset_s``, ``duration_s``); all recordings together, so that every subject
        gets the same blocks.
    min_block_s : float
        A block grows sentence by sentence, in the order they play in their file, until it
        spans at least this long (first word onset to last word end); a shorter remainder
        at the end of a file joins the block before it. 0 keeps every sentence alone.

    Returns
    -------
    dict
        Sentence id to its block key: the ids of the block's sentences joined by ``+``
        (a sentence alone keeps its own id, so one-sentence files split as before).
    """
    spans: dict[tuple[str, str], list[float]] = {}
    alone: set[str] = set()
    for event in events:
        onset = getattr(event, "sound_onset_s", float("nan"))
        if event.sound_file is None or not np.isfinite(onset):
            alone.add(event.sentence_id)
            continue
        span = spans.setdefault((str(event.sound_file), event.sentence_id), [np.inf, -np.inf])
        span[0], span[1] = min(span[0], onset), max(span[1], onset + event.duration_s)
    files: dict[str, list[tuple[float, float, str]]] = {}
    for (sound, sentence), (start, end) in spans.items():
        files.setdefault(sound, []).append((start, end, sentence))
    blocks: dict[str, str] = {}
    for sound in sorted(files):
        groups: list[list[tuple[float, float, str]]] = []
        for item in sorted(files[sound]):
            if item[2] in blocks:
                continue  # a sentence in two files keeps its first block
            if groups and groups[-1][-1][1] - groups[-1][0][0] < min_block_s:
                groups[-1].append(item)
            else:
                groups.append([item])
        if len(groups) > 1 and groups[-1][-1][1] - groups[-1][0][0] < min_block_s:
            tail = groups.pop()
            groups[-1] += tail
        for group in groups:
            key = "+".join(sentence for *_, sentence in group)
            blocks.update({sentence: key for *_, sentence in group})
    blocks.update({sentence: sentence for sentence in sorted(alone) if sentence not in blocks})
    return blocks


def block_splits(blocks: dict[str, str], fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
                 method: str = "rank") -> dict[str, str]:
    """The split of every sentence: that of its block (:func:`assign_splits` over block keys)."""
    by_block = assign_splits(list(blocks.values()), fractions, method)
    return {sentence: by_block[block] for sentence, block in blocks.items()}
