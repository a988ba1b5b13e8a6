"""`biocl dna`: DNA embedding, binning and evaluation."""

from __future__ import annotations

import typer

from biocl_cli.output import not_built

app = typer.Typer(help="DNA embedding, binning and evaluation.")


@app.callback(invoke_without_command=True)
def _not_built() -> None:
    not_built("dna", 4)
