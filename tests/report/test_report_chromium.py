"""report.html in headless Chromium: no console error, a screenshot that shows the page, a PDF.

Chromium is Debian's ``chromium`` package (``.ci/run`` installs it when missing); without it
these tests skip and say why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from biocl.report import build_report
from biocl.report.builder import chromium_base_command, find_chromium

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed: `apt-get install -y chromium` (.ci/run does it)")
# Chromium logs every console message of the page as `...:CONSOLE:<line>] "<message>", source: ...`
# (older builds `CONSOLE(<line>)`), uncaught exceptions and failed loads included.
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? ?(.*)")


def _open(html: Path, tmp_path: Path) -> tuple[list[str], Path]:
    """Load ``html`` headless, take a 1280 x 2000 screenshot; return the console messages and the PNG."""
    shot = tmp_path / "shot.png"
    command = chromium_base_command(CHROMIUM, tmp_path / "profile") + [
        "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1280,2000", html.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [match.group(1) for match in _CONSOLE.finditer(done.stderr)], shot


def _assert_page_drawn(shot: Path) -> None:
    from PIL import Image, ImageStat

    image = Image.open(shot).convert("L")
    assert image.size == (1280, 2000)
    # A blank or failed page is one flat colour; a drawn report has text, tables and banners.
    assert ImageStat.Stat(image).stddev[0] > 10


def test_console_errors_are_detected(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><p>x</p><script>throw new Error("deliberate");</script>', encoding="utf-8")
    messages, _ = _open(page, tmp_path)
    assert any("Uncaught Error: deliberate" in message for message in messages), messages


def test_report_opens_without_console_errors(built_runs: dict[str, Path], tmp_path: Path) -> None:
    messages, shot = _open(built_runs["dna_species"] / "report.html", tmp_path)
    assert messages == []
    _assert_page_drawn(shot)


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", ["brain_speech", "audio_temporal"])
def test_other_reports_open_without_console_errors(built_runs: dict[str, Path], tmp_path: Path,
                                                   pipeline: str) -> None:
    messages, shot = _open(built_runs[pipeline] / "report.html", tmp_path)
    assert messages == []
    _assert_page_drawn(shot)


def test_pdf_is_printed_from_the_html(built_runs: dict[str, Path], tmp_path: Path) -> None:
    run = shutil.copytree(built_runs["brain_speech"], tmp_path / "run")
    written = build_report(run, formats=("pdf",))
    assert set(written) == {"html", "pdf"}
    data = written["pdf"].read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 50_000
    assert not list(run.glob(".report.pdf.*"))  # no temporary file left behind

