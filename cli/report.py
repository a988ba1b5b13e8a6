"""`biocl report RUN_DIR` and `biocl report compare RUN_A RUN_B`: evaluation reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from biocl.utils.console import stage
from biocl.utils.errors import BioclError
from biocl.report import build_report, compare_runs, write_comparison
from biocl.report.builder import REPORT_FORMATS
from biocl.report.material import fmt
from biocl.utils.io import check_output
from biocl_cli.output import OVERWRITE_OPTION, emit


class _RunDirOrCommand(TyperGroup):
    """`biocl report RUN_DIR ...` means `biocl report build RUN_DIR ...`; subcommands keep their names."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["build", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_RunDirOrCommand, no_args_is_help=True,
                  help="Evaluation reports: `biocl report RUN_DIR` writes one, `biocl report compare A B` "
                       "sets two runs side by side.")


@app.command("build")
def build(
    run_dir: Path = typer.Argument(..., help="A run folder written by `biocl run`."),
    formats: str = typer.Option(",".join(REPORT_FORMATS), "--format", "-f",
                                help="Comma-separated formats among html, json, pdf (the PDF needs Chromium)."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Write report.html, report.json and report.pdf of a run folder (same as `biocl report RUN_DIR`)."""
    wanted = [part.strip() for part in formats.split(",") if part.strip()]
    if not wanted:
        raise BioclError("--format names no format", hint=f"e.g. --format {','.join(REPORT_FORMATS)}")
    if run_dir.is_dir():  # a missing run folder is reported by build_report, with what it needs
        # A PDF is printed from report.html, so asking for it writes both.
        names = [*wanted, *(["html"] if "pdf" in wanted else [])]
        reports = [run_dir / f"report.{name}" for name in REPORT_FORMATS if name in names]
        if reports:
            check_output(reports[0], overwrite=overwrite, folder=False, also=tuple(reports[1:]))
    with stage("writing the report" + (" (the PDF with Chromium)" if "pdf" in wanted else "")):
        written = build_report(run_dir, formats=wanted)
    skipped = [name for name in wanted if name not in written]
    lines = [f"{name:<5} {path}" for name, path in written.items()]
    lines += [f"{name:<5} skipped (no usable Chromium; see docs/reports.md)" for name in skipped]
    emit({"run_dir": str(run_dir), "files": {k: str(v) for k, v in written.items()}, "skipped": skipped},
         "\n".join(lines))


@app.command("compare")
def compare(
    run_a: Path = typer.Argument(..., help="Run folder A."),
    run_b: Path = typer.Argument(..., help="Run folder B (the difference is A - B)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write compare.html and compare.json here."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Two runs side by side, with a paired bootstrap CI of the difference on the primary endpoint."""
    if out is not None:
        check_output(out, overwrite=overwrite)  # before any work
    with stage("comparing the two runs (paired bootstrap)"):
        comparison = compare_runs(run_a, run_b)
    written = write_comparison(comparison, out) if out is not None else {}
    diff = comparison["difference"]
    low, high = diff["ci95"]
    lines = [f"A {comparison['runs']['a']['verdict']}", f"B {comparison['runs']['b']['verdict']}",
             f"A - B = {fmt(diff['estimate'])} (95% CI {fmt(low)} to {fmt(high)}; {diff['method']})"]
    lines += [f"{name:<5} {path}" for name, path in written.items()]
    emit({**comparison, "files": {k: str(v) for k, v in written.items()}}, "\n".join(lines))
