"""The resolved protocol is written in UTF-8 as typed: "Défossez", never "D\\xE9fossez"."""

from __future__ import annotations

from pathlib import Path

from biocl.protocols.base import load_protocol, protocol_to_yaml, read_yaml

QUICK = Path(__file__).resolve().parents[2] / "protocols" / "brain_speech_quick.yaml"


def test_protocol_to_yaml_keeps_non_ascii_text_as_written() -> None:
    protocol = load_protocol(QUICK, ["description=Défossez et al. 2023 — 10 µV, 5 °C, 日本"])
    text = protocol_to_yaml(protocol)
    assert "description: Défossez et al. 2023 — 10 µV, 5 °C, 日本" in text
    assert "\\x" not in text and "\\u" not in text
    # The shipped protocol's own accent survives too, and the text reads back to the same values.
    assert "Défossez" in protocol_to_yaml(load_protocol(QUICK))
    assert read_yaml(text) == protocol.model_dump(mode="json")


def test_the_resolved_protocol_file_is_utf8(tmp_path: Path) -> None:
    from biocl.utils.io import write_text

    path = write_text(tmp_path / "protocol.resolved.yaml", protocol_to_yaml(load_protocol(QUICK)))
    assert "Défossez".encode() in path.read_bytes()
