"""Atomic writes and hashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from biocl.utils.io import atomic_path, sha256_bytes, sha256_file, write_json


def test_atomic_path_keeps_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_sha256_matches_bytes(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"biocl")
    assert sha256_file(tmp_path / "f") == sha256_bytes(b"biocl")


def test_atomic_writes_get_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "r.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644
