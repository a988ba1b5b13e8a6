"""`biocl audio`: Temporal post-training of audio-language models."""

from __future__ import annotations

import typer

from biocl_cli.output import not_built

app = typer.Typer(help="Temporal post-training of audio-language models.")


@app.callback(invoke_without_command=True)
def _not_built() -> None:
    not_built("audio", 5)
