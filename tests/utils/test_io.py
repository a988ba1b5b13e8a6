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


def test_check_output_dir_refuses_files_and_non_empty_folders(tmp_path: Path) -> None:
    from biocl.utils.errors import BioclError
    from biocl.utils.io import check_output_dir

    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    (tmp_path / "file").write_text("x")
    with pytest.raises(BioclError, match="is a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(BioclError, match="is a file"):
        check_output_dir(tmp_path / "file" / "below")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.txt").write_text("x")
    with pytest.raises(BioclError, match="not empty"):
        check_output_dir(tmp_path / "full")
    assert check_output_dir(tmp_path / "full", overwrite=True) == tmp_path / "full"


def test_atomic_directory_replaces_the_whole_folder_or_nothing(tmp_path: Path) -> None:
    from biocl.utils.io import atomic_directory

    target = tmp_path / "bins"
    target.mkdir()
    (target / "bin.1.fa").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "bin.1.fa").write_text("new")
            raise RuntimeError("killed mid-write")
    assert [p.name for p in target.iterdir()] == ["bin.1.fa"] and (target / "bin.1.fa").read_text() == "old"
    with atomic_directory(target) as tmp:
        (tmp / "bin.2.fa").write_text("new")
    assert [p.name for p in target.iterdir()] == ["bin.2.fa"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bins"]
