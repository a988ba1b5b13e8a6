"""Global options and output: one JSON document on stdout with --json, logs on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

__all__ = ["state", "emit", "DEVICE_OPTION", "THREADS_OPTION", "runtime_overrides", "output_folder"]


class _State:
    json: bool = False
    quiet: bool = False
    debug: bool = False


state = _State()


def emit(document: dict[str, Any], human: str | None = None) -> None:
    """Print a command's result: ``document`` as JSON with --json, else ``human`` (or the document)."""
    if state.json:
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    elif human is not None:
        typer.echo(human)
    else:
        for key, value in document.items():
            typer.echo(f"{key}: {value}")


#: ``--device`` and ``--threads`` of every long-running command (they override train.device / train.threads).
DEVICE_OPTION = typer.Option(None, "--device", help="auto, cpu or cuda (default: the protocol's train.device).")
THREADS_OPTION = typer.Option(None, "--threads", min=1, help="CPU threads for torch (default: the protocol's "
                              "train.threads, else torch's own choice).")


def runtime_overrides(device: str | None, threads: int | None) -> list[str]:
    """``--set`` overrides that carry ``--device`` and ``--threads`` into a protocol."""
    overrides = []
    if device is not None:
        overrides.append(f"train.device={device}")
    if threads is not None:
        overrides.append(f"train.threads={threads}")
    return overrides


def output_folder(out: Path | None, positional: Path | None, command: str) -> Path:
    """The folder of ``--out``, or of the deprecated positional OUT (with a warning on stderr)."""
    from biocl.utils.errors import BioclError

    if out is not None and positional is not None and out != positional:
        raise BioclError(f"two output folders given ({positional} and --out {out})", hint="give only --out")
    if out is None and positional is None:
        raise BioclError("no output folder given", hint=f"biocl {command} --out FOLDER")
    if out is None:
        if not state.quiet and not state.json:
            typer.echo(f"warning: `biocl {command} OUT` is deprecated; write `biocl {command} --out OUT`",
                       err=True)
        return positional  # type: ignore[return-value]
    return out
