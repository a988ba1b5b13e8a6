"""The command line shell: help, global options, doctor, protocols, error handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from biocl_cli.main import main
from biocl_cli.output import state


@pytest.fixture(autouse=True)
def _reset_global_options() -> None:
    state.json = state.quiet = state.debug = False


def test_help_lists_every_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for group in ("run", "protocols", "simulate", "decode", "dna", "audio", "report", "doctor"):
        assert group in out


def test_doctor_json_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["device"] in ("cpu", "cuda")
    assert document["versions"]["torch"].startswith("2.11")
    assert document["torchaudio_loads"] is True


def test_protocols_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "protocols", "list"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)["protocols"]]
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "protocols").glob("*.yaml"))
    assert sorted(names) == shipped


@pytest.mark.parametrize("content", ["name: [unclosed\n", "name: x\nversion: 1\npipeline: brain_speech\ncolour: red\n"])
def test_malformed_protocol_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert main(["protocols", "validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(path) in err
    assert len(err.splitlines()) == 1


def test_unknown_protocol_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no_such_protocol"]) == 2
    assert "protocol not found" in capsys.readouterr().err


def test_console_script_runs_as_a_process() -> None:
    biocl = Path(sys.executable).parent / "biocl"
    out = subprocess.run([str(biocl), "--json", "doctor"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)
