"""Sentence splits: deterministic, proportional, the same whatever the order of the sentences."""

from __future__ import annotations

import pytest

from biocl.data.meg.splits import assign_splits, sentence_split
from biocl.utils.errors import BioclError


def test_splits_are_deterministic_and_proportional():
    keys = [f"sentence {i}" for i in range(200)]
    splits = assign_splits(keys + keys[:50])
    counts = {s: sum(v == s for v in splits.values()) for s in ("train", "valid", "test")}
    assert counts == {"train": 140, "valid": 20, "test": 40}
    assert assign_splits(list(reversed(keys))) == splits
    hashed = assign_splits(keys, method="hash")
    assert all(hashed[k] == sentence_split(k) for k in keys)
    with pytest.raises(BioclError):
        assign_splits(keys, (0.5, 0.5, 0.5))
