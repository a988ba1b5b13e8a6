"""`biocl report`: Evaluation reports."""

from __future__ import annotations

import typer

from biocl_cli.output import not_built

app = typer.Typer(help="Evaluation reports.")


@app.callback(invoke_without_command=True)
def _not_built() -> None:
    not_built("report", 6)
