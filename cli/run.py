"""`biocl run PROTOCOL`: run a protocol end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from biocl.pipelines import run_protocol
from biocl.protocols.base import load_protocol
from biocl.report.labels import metric_label
from biocl_cli.output import DEVICE_OPTION, OVERWRITE_OPTION, THREADS_OPTION, emit, run_folder, runtime_overrides
from biocl_cli.protocols import find_protocol


def run(
    protocol: str = typer.Argument(..., help="A protocol file, or the name of one in protocols/."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run folder (default runs/<name>-<UTC time>/)."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override a protocol value: section.key=value."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue the run in this folder from its last checkpoint."),
    overwrite: bool = OVERWRITE_OPTION,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when the acceptance criterion fails."),
    device: str | None = DEVICE_OPTION,
    threads: int | None = THREADS_OPTION,
) -> None:
    """Run a protocol end to end: train, evaluate, write results.json and the report."""
    loaded = load_protocol(find_protocol(protocol), [*(set_ or []), *runtime_overrides(device, threads)])
    folder = run_folder(out, resume, overwrite)  # before any work
    run_dir, results = run_protocol(loaded, folder, resume=resume is not None)
    endpoint = results["primary_endpoint"]
    verdict = "PASS" if endpoint["passed"] else "FAIL"
    low, high = endpoint["ci95"]
    emit(
        {"run_dir": str(run_dir), "results": results},
        f"{loaded.name}: {metric_label(endpoint['metric'])} = {endpoint['value']:.4f} "
        f"(95% CI {low:.4f}-{high:.4f}; passes at {endpoint['comparison']} {endpoint['threshold']:.4f}) {verdict}\n"
        f"run folder: {run_dir}\nreport:     {run_dir / 'report.html'}",
    )
    if strict and not endpoint["passed"]:
        raise typer.Exit(1)
