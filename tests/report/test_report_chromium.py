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



# Measured in the page at 1,400 px: a cell whose text is wider than the cell, a word drawn on two
# lines, a figure without a title. The result is written into the DOM that --dump-dom prints.
_LAYOUT_PROBE = """
<script>
(function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  var problems = [];
  document.querySelectorAll("td, th").forEach(function (cell) {
    if (!cell.offsetParent) { return; }
    if (cell.scrollWidth > cell.clientWidth + 1) {
      problems.push("overflow: " + cell.textContent.slice(0, 60));
    }
    var walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var re = /\\S+/g, match;
      while ((match = re.exec(node.data)) !== null) {
        var range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        var lines = {};
        Array.prototype.forEach.call(range.getClientRects(), function (r) {
          if (r.width > 0) { lines[Math.round(r.top)] = true; }
        });
        if (Object.keys(lines).length > 1) { problems.push("broken word: " + match[0]); }
      }
    }
  });
  document.querySelectorAll("img").forEach(function (img) {
    if (!img.getAttribute("title") || !img.getAttribute("alt")) { problems.push("img without title"); }
  });
  document.querySelectorAll("figure > svg").forEach(function (svg) {
    var title = svg.querySelector(":scope > title");
    if (!title || !title.textContent.trim()) { problems.push("svg without title"); }
  });
  var out = document.createElement("pre");
  out.id = "layout-probe";
  out.textContent = JSON.stringify({problems: problems, cells: document.querySelectorAll("td").length,
                                    figures: document.querySelectorAll("figure").length});
  document.body.appendChild(out);
}());
</script>
"""


def _layout(html: Path, tmp_path: Path) -> dict:
    import json

    probed = tmp_path / "probed.html"
    probed.write_text(html.read_text(encoding="utf-8").replace("</body>", _LAYOUT_PROBE + "</body>"),
                      encoding="utf-8")
    command = chromium_base_command(CHROMIUM, tmp_path / "profile") + [
        "--window-size=1400,2000", "--dump-dom", probed.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    found = re.search(r'<pre id="layout-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    import html as html_module

    return json.loads(html_module.unescape(found.group(1)))


@pytest.mark.parametrize("pipeline", [
    "dna_species",
    pytest.param("brain_speech", marks=pytest.mark.slow),
    pytest.param("audio_temporal", marks=pytest.mark.slow)])
def test_tables_fit_words_stay_whole_and_figures_have_titles(built_runs: dict[str, Path], tmp_path: Path,
                                                             pipeline: str) -> None:
    measured = _layout(built_runs[pipeline] / "report.html", tmp_path)
    assert measured["cells"] > 50 and measured["figures"] >= 3
    assert measured["problems"] == []


def test_layout_probe_sees_a_broken_word(tmp_path: Path) -> None:
    page = tmp_path / "narrow.html"
    page.write_text('<!DOCTYPE html><body><table style="width:40px"><tr><td style="overflow-wrap:anywhere">'
                    'Pseudomonadota</td><td style="white-space:nowrap;max-width:20px;overflow:hidden">'
                    '0.123456789 0.123456789</td></tr></table><figure><svg></svg></figure></body>',
                    encoding="utf-8")
    problems = _layout(page, tmp_path)["problems"]
    assert "broken word: Pseudomonadota" in problems and "svg without title" in problems
    assert any(p.startswith("overflow: 0.1234") for p in problems)


def test_pdf_page_one_holds_the_verdict_and_every_page_a_number(built_runs: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    run = shutil.copytree(built_runs["dna_species"], tmp_path / "run")
    pdf = build_report(run, formats=("pdf",))["pdf"]
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout
    assert "PASS" in first and "Primary endpoint: few-shot species accuracy = 0.650" in first
    assert "The genomes are simulated" in first
    every = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = every.count("\f")
    assert pages >= 2
    for number in range(1, pages + 1):
        assert f"page {number} of {pages}" in every
    assert every.count("run run") == pages  # the run id ("run" folder) in every page's footer
    assert "Appendix A. Resolved protocol" in every
