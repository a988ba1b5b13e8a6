"""`biocl decode`: Brain-to-speech decoding: train, evaluate, predict."""

from __future__ import annotations

import typer

from biocl_cli.output import not_built

app = typer.Typer(help="Brain-to-speech decoding: train, evaluate, predict.")


@app.callback(invoke_without_command=True)
def _not_built() -> None:
    not_built("decode", 3)
