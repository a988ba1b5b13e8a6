"""Which paths a protocol may name (issue #15, class 2): see biocl/utils/paths.py and docs/hardening.md."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from biocl.protocols.base import load_protocol
from biocl.utils.errors import BioclError
from biocl.utils.paths import check_protocol_path

REPO = Path(__file__).resolve().parents[2]
AUDIO = REPO / "protocols" / "audio_temporal_quick.yaml"


@pytest.mark.parametrize("path", ["/etc/passwd", "/proc/self/environ", "/sys/kernel", "/dev/sda", "/boot"])
def test_system_locations_are_refused_even_from_the_command_line(path: str) -> None:
    with pytest.raises(BioclError, match="a system location a protocol may not read"):
        check_protocol_path(path, from_command_line=True)


def test_links_and_climbing_are_followed_before_the_check(tmp_path: Path) -> None:
    (tmp_path / "innocent").symlink_to("/etc")
    with pytest.raises(BioclError, match="system location"):
        check_protocol_path(tmp_path / "innocent" / "passwd")
    with pytest.raises(BioclError, match="system location"):
        check_protocol_path(tmp_path / ("../" * 40) / "etc" / "shadow")


def test_the_users_home_is_not_a_system_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/root")
    assert check_protocol_path("/root/data/manifest.csv") == Path("/root/data/manifest.csv")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(BioclError, match="system location"):
        check_protocol_path("/root/data/manifest.csv")


def test_another_users_file_needs_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = tmp_path / "theirs.csv"
    theirs.write_text("path,label\n")
    os.chown(theirs, 4242, 4242) if os.getuid() == 0 else pytest.skip("needs root to give a file away")
    with pytest.raises(BioclError, match="another user"):
        check_protocol_path(theirs)
    assert check_protocol_path(theirs, from_command_line=True) == theirs


def test_a_protocol_refuses_a_system_path_by_file_and_by_set(tmp_path: Path) -> None:
    protocol = load_protocol(AUDIO, ["data.source=manifest", "data.root=/etc/passwd"])
    with pytest.raises(BioclError, match="system location"):
        protocol.resolve_path(protocol.data.root)
    text = AUDIO.read_text(encoding="utf-8").replace("  source: simulate\n",
                                                      "  source: manifest\n  root: " + "../" * 30 + "etc/passwd\n")
    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    protocol = load_protocol(tmp_path / "p.yaml")
    with pytest.raises(BioclError, match="system location"):
        protocol.resolve_path(protocol.data.root)


def test_a_manifest_error_never_prints_the_files_first_line(tmp_path: Path) -> None:
    from biocl.data.audio.reading import list_manifest

    secret = tmp_path / "notes.csv"
    secret.write_text("hunter2:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    with pytest.raises(BioclError) as refused:
        list_manifest(secret)
    assert "hunter2" not in str(refused.value) and "1 other field not shown" in str(refused.value)
    named = tmp_path / "named.csv"
    named.write_text("Path,Label\n", encoding="utf-8")
    with pytest.raises(BioclError, match=r"found: 'Path', 'Label'"):
        list_manifest(named)
