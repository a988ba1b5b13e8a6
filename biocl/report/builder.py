"""Build a run's evaluation report: ``report.json``, a self-contained ``report.html`` and a PDF.

The builder reads ``RUN_DIR/results.json``, ``RUN_DIR/protocol.resolved.yaml`` and
``RUN_DIR/metrics.jsonl``, assembles the sections of :mod:`biocl.report.sections`, validates
the machine-readable document against :data:`biocl.report.schema.REPORT_SCHEMA` and writes
every file atomically. The PDF is printed from the HTML by headless Chromium when one is
installed, and skipped (with a log line) when not; the HTML and JSON are always made.
"""

from __future__ import annotations

from datetime import datetime, timezone
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

import biocl
from biocl.utils.console import info
from biocl.utils.errors import BioclError
from biocl.utils.io import atomic_path, write_json, write_text
from biocl.report.schema import REPORT_FORMAT, validate_report
from biocl.report.material import ReportSection, RunFiles, data_kind, fmt, verdict_rule
from biocl.report.page import endpoint_summary, key_dump, page_label, readable_protocol, simulated_banner
from biocl.report.sections import build_sections

__all__ = ["REPORT_FORMATS", "build_report", "build_document", "render_html", "template_environment",
           "inlined_css", "find_chromium", "chromium_base_command", "print_pdf", "read_run"]

REPORT_FORMATS = ("html", "json", "pdf")
#: Written into the run folder when no PDF could be made (and removed once one is).
PDF_MISSING = "report_pdf_missing.txt"
_TEMPLATES = Path(__file__).parent / "templates"
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_PDF_TIMEOUT_S = 180


def read_run(run_dir: str | Path) -> RunFiles:
    """Read what a report is built from; only ``results.json`` is required.

    Raises
    ------
    BioclError
        When ``results.json`` is missing, is not JSON, or lacks the primary endpoint.
    """
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise BioclError("no results.json in this folder", path=run_dir,
                         hint="give the folder of a finished `biocl run`")
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BioclError(f"results.json is not valid JSON ({err})", path=results_path) from None
    endpoint = results.get("primary_endpoint") if isinstance(results, dict) else None
    required = ("metric", "value", "ci95", "threshold", "comparison", "passed")
    if not isinstance(endpoint, dict) or any(key not in endpoint for key in required):
        raise BioclError("results.json has no complete primary_endpoint "
                         f"(it needs {', '.join(required)})", path=results_path,
                         hint="was it written by `biocl run`?")
    protocol_text = protocol = None
    protocol_path = run_dir / "protocol.resolved.yaml"
    if protocol_path.is_file():
        protocol_text = protocol_path.read_text(encoding="utf-8")
        try:
            loaded = yaml.safe_load(protocol_text)
        except yaml.YAMLError:
            loaded = None
        protocol = loaded if isinstance(loaded, dict) else None
    return RunFiles(results=results, protocol=protocol, protocol_text=protocol_text,
                    records=_read_records(run_dir / "metrics.jsonl"), run_id=run_dir.resolve().name)


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            # A run killed mid-write leaves a torn last line; the records before it still hold.
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def build_document(run: RunFiles, run_dir: str | Path) -> tuple[dict[str, Any], list[ReportSection]]:
    """The ``report.json`` document and the sections the HTML page renders.

    Returns
    -------
    document : dict
        Valid against :data:`biocl.report.schema.REPORT_SCHEMA`.
    sections : list of ReportSection
        With the HTML-only parts (tables, figures) as well.
    """
    sections = build_sections(run)
    endpoint = run.endpoint
    document = {
        "report_format": REPORT_FORMAT,
        "biocl_version": biocl.__version__,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": run.run_id,
        "run_dir": str(Path(run_dir).resolve()),
        "pipeline": str(run.results.get("pipeline", "not reported")),
        "data_kind": data_kind(run.results),
        "verdict": {"label": "PASS" if endpoint["passed"] else "FAIL", "passed": bool(endpoint["passed"]),
                    "rule": verdict_rule(endpoint)},
        "sections": [section.to_json() for section in sections],
        "notes": list(run.notes),
    }
    validate_report(document)
    return document, sections


def template_environment():
    """The Jinja2 environment of the report templates: autoescaped, strict, URL-free output."""
    import jinja2
    from markupsafe import Markup, escape

    def finalize(value: Any) -> Any:
        # User text (a data source, a description) may hold a URL; written with an entity for the
        # colon it reads the same, but the file holds no "scheme://" that could be taken for a link.
        if isinstance(value, Markup) or not isinstance(value, str):
            return value
        return Markup(str(escape(value)).replace("://", "&#58;//"))

    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True, finalize=finalize,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def inlined_css():
    """The report style sheet, marked safe for a ``<style>`` element (it is ours, not user text)."""
    from markupsafe import Markup

    return Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8"))


def render_html(document: dict[str, Any], sections: list[ReportSection], run: RunFiles) -> str:
    """The report as one self-contained HTML page (inlined CSS, embedded figures, no URL)."""
    from markupsafe import Markup

    protocol = run.results.get("protocol") or {}
    return template_environment().get_template("report.html.j2").render(
        document=document, sections=sections, css=inlined_css(), fmt=fmt,
        protocol_name=str(protocol.get("name", "unnamed protocol")),
        protocol_version=str(protocol.get("version", "")),
        simulated_banner=simulated_banner(document["pipeline"]),
        endpoint_summary=endpoint_summary(run.endpoint),
        page_label=Markup(page_label(document["run_id"])),
        protocol_yaml=readable_protocol(run),
        key_dump=key_dump(run.results),
    )


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable: ``$BIOCL_CHROMIUM`` or the first on ``PATH``."""
    explicit = os.environ.get("BIOCL_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else shutil.which(explicit)
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_base_command(executable: str, user_data_dir: str | Path) -> list[str]:
    """Headless Chromium that stays off the network and writes its profile to ``user_data_dir``."""
    return [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={user_data_dir}"]


def print_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout_s: float = _PDF_TIMEOUT_S) -> str | None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium, atomically.

    Returns
    -------
    str | None
        ``None`` when the PDF was written, else why it was not (no Chromium, Chromium failed).
    """
    executable = find_chromium()
    if executable is None:
        return "no Chromium found (install Debian's chromium package, or set BIOCL_CHROMIUM)"
    url = Path(html_path).resolve().as_uri()
    try:
        with tempfile.TemporaryDirectory(prefix="biocl-chromium-") as profile, atomic_path(pdf_path) as tmp:
            command = chromium_base_command(executable, profile) + [
                "--no-pdf-header-footer", f"--print-to-pdf={tmp}", url]
            returncode, stderr = _run_chromium(command, timeout_s)
            if not tmp.is_file() or tmp.read_bytes()[:5] != b"%PDF-":
                last = (stderr.strip().splitlines() or ["no output"])[-1]
                raise _PdfSkipped(f"Chromium exited {returncode} without a PDF ({last[:200]})")
    except _PdfSkipped as skipped:
        return str(skipped)
    return None


def _run_chromium(command: list[str], timeout_s: float) -> tuple[int, str]:
    """Run Chromium in its own process group, so a hung one is ended with all its helpers."""
    try:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
    except OSError as err:
        raise _PdfSkipped(f"Chromium could not start ({err})") from None
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise _PdfSkipped(f"Chromium took more than {timeout_s:.0f} s") from None
    return process.returncode, stderr


class _PdfSkipped(Exception):
    """Chromium could not print; raised inside the atomic write so an older PDF stays untouched."""


def build_report(run_dir: str | Path, formats: Iterable[str] = REPORT_FORMATS) -> dict[str, Path]:
    """Write the evaluation report of a run folder.

    Parameters
    ----------
    run_dir : str | Path
        A folder written by ``biocl run`` (``results.json`` at least).
    formats : iterable of str
        Any of ``"html"``, ``"json"``, ``"pdf"``. The PDF is printed from the HTML page, so
        asking for it also writes ``report.html``.

    Returns
    -------
    dict
        ``{format: path}`` of the files written; ``"pdf"`` is absent when no PDF could be made.

    Raises
    ------
    BioclError
        When the folder holds no usable ``results.json`` or a format is unknown.
    """
    formats = tuple(formats)
    unknown = sorted(set(formats) - set(REPORT_FORMATS))
    if unknown:
        raise BioclError(f"unknown report format {', '.join(map(repr, unknown))}",
                         hint=f"choose among {', '.join(REPORT_FORMATS)}")
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    document, sections = build_document(run, run_dir)
    written: dict[str, Path] = {}
    if "json" in formats:
        written["json"] = write_json(run_dir / "report.json", document)
    if "html" in formats or "pdf" in formats:
        written["html"] = write_text(run_dir / "report.html", render_html(document, sections, run))
    if "pdf" in formats:
        reason = print_pdf(written["html"], run_dir / "report.pdf")
        if reason is None:
            written["pdf"] = run_dir / "report.pdf"
            (run_dir / PDF_MISSING).unlink(missing_ok=True)
        else:
            info(f"report: PDF skipped: {reason}; report.html and report.json are complete")
            # Said in the folder itself, not only in a log line that scrolled away.
            write_text(run_dir / PDF_MISSING, f"No report.pdf was made: {reason}.\n"
                       "report.html and report.json are complete. To make the PDF, install Chromium "
                       "(Debian: apt-get install chromium) or set BIOCL_CHROMIUM, then run: "
                       f"biocl report {run_dir} --overwrite\n")
    for name in written.values():
        info(f"report: wrote {name}")
    return written
