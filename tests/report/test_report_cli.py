"""`biocl report RUN_DIR` and `biocl report compare RUN_A RUN_B` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biocl.utils import console
from biocl_cli import output
from biocl_cli.main import main


@pytest.fixture(autouse=True)
def _restore_cli_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() sets process-wide output flags; put them back after each test."""
    monkeypatch.setattr(output.state, "json", False)
    monkeypatch.setattr(output.state, "quiet", False)
    monkeypatch.setattr(console, "_quiet", True)
    monkeypatch.setenv("BIOCL_QUIET", "1")


@pytest.fixture
def lean_run(make_run, results_of) -> Path:
    results = {k: v for k, v in results_of("audio_temporal").items() if k != "figures"}
    return make_run(results, records=[])


def test_report_run_dir_writes_the_formats_asked(lean_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "report", str(lean_run), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["files"] == {"json": str(lean_run / "report.json")} and printed["skipped"] == []
    assert (lean_run / "report.json").is_file() and not (lean_run / "report.html").exists()


def test_report_compare_writes_side_by_side_files(lean_run: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "compare", str(lean_run), str(lean_run), "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "A - B = 0 (95% CI 0 to 0;" in printed
    assert (tmp_path / "cmp" / "compare.html").is_file() and (tmp_path / "cmp" / "compare.json").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["report", "{missing}"], "no results.json in this folder"),
    (["report", "{run}", "--format", "docx"], "unknown report format 'docx'"),
    (["report", "{run}", "--format", ","], "--format names no format"),
])
def test_user_errors_print_one_line_and_exit_2(args: list[str], message: str, lean_run: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(missing=tmp_path / "nothing", run=lean_run) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
