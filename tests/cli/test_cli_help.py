"""Every command's --help reads like its neighbours'; --json errors are one JSON document on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biocl_cli.help import GLOBAL_FLAGS, build_command, walk_commands
from biocl_cli.main import app, main
from biocl_cli.output import state

COMMANDS = [path for path, _ in walk_commands(build_command(app))]
LEAVES = [path for path, command in walk_commands(build_command(app)) if not hasattr(command, "commands")]


@pytest.fixture(autouse=True)
def _fresh_state():
    yield
    state.json = state.quiet = state.debug = False


def _help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*path, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "biocl")
def test_help_has_no_bool_metavar_and_lists_the_global_flags(path, capsys) -> None:
    text = _help(path, capsys)
    assert "<bool>" not in text
    assert "{" not in text.split("\n", 3)[1]  # the usage line: `PROTOCOL`, not `{protocol}`
    if path in LEAVES:
        for flag in GLOBAL_FLAGS:
            assert flag in text, f"`biocl {' '.join(path)} --help` does not document {flag}"


def test_arguments_read_in_capitals(capsys) -> None:
    assert "Usage: biocl run [OPTIONS] PROTOCOL" in _help(("run",), capsys)
    assert "PROTOCOLS..." in _help(("protocols", "validate"), capsys)
    usage = _help(("simulate", "meg"), capsys)
    assert "LEGACY_OUT" not in usage and "--out" in usage  # the deprecated positional stays out of sight


def _one_document(text: str) -> dict:
    document = json.loads(text)  # raises when stdout holds anything but one JSON document
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("argv", [["--json", "run", "no_such_protocol"], ["run", "no_such_protocol", "--json"]])
def test_json_error_is_one_document(argv, capsys) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    document = _one_document(captured.out)
    assert set(document) == {"error", "path", "hint"}
    assert document["error"] == "protocol not found" and document["path"] == "no_such_protocol"
    assert "protocol not found" in captured.err


def test_json_usage_error_is_one_document(capsys) -> None:
    assert main(["--json", "run", "--no-such-option"]) == 2
    document = _one_document(capsys.readouterr().out)
    assert "--no-such-option" in document["error"]


def test_device_is_checked_before_any_work(capsys) -> None:
    assert main(["--json", "run", "brain_speech_quick", "--device", "tpu"]) == 2
    assert "device" in _one_document(capsys.readouterr().out)["error"]


@pytest.mark.parametrize("form", ["option", "positional"])
def test_simulate_audio_takes_out(tmp_path: Path, capsys, form: str) -> None:
    out = tmp_path / "sounds"
    where = ["--out", str(out)] if form == "option" else [str(out)]
    assert main(["simulate", "audio", *where, "--classes", "2", "--clips-per-class", "1", "--clip-s", "0.2"]) == 0
    assert (out / "meta" / "esc50.csv").is_file()
    assert ("deprecated" in capsys.readouterr().err) == (form == "positional")


def test_simulate_without_out_is_a_clear_error(capsys) -> None:
    assert main(["--json", "simulate", "meg"]) == 2
    assert _one_document(capsys.readouterr().out)["hint"] == "biocl simulate meg --out FOLDER"


def test_doctor_names_missing_optional_packages_and_chromium(monkeypatch, tmp_path: Path, capsys) -> None:
    import importlib.metadata

    real = importlib.metadata.version

    def version(name: str) -> str:
        if name in ("transformers", "faiss-cpu", "pysam"):
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setenv("BIOCL_CHROMIUM", str(tmp_path / "no-chromium"))
    assert main(["--json", "doctor"]) == 0
    document = _one_document(capsys.readouterr().out)
    assert set(document["missing_optional"]) == {"transformers", "faiss-cpu", "pysam"}
    assert document["chromium"] is None
