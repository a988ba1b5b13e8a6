"""Global options and output: one JSON document on stdout with --json, logs on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

__all__ = ["state", "emit"]


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
