"""`biocl simulate meg|dna|audio|metagenome`: write simulated data sets in the real file formats."""

from __future__ import annotations

import typer

from biocl_cli import audio, decode, dna

app = typer.Typer(help="Write simulated data sets (BIDS/FIF, FASTA/FASTQ, WAV) that the real readers load.",
                  no_args_is_help=True)

# Each domain's command group defines its simulator command next to its other commands.
for _name, _module in (("meg", decode), ("dna", dna), ("audio", audio)):
    _command = getattr(_module, "simulate_command", None)
    if _command is not None:
        app.command(_name)(_command)
app.command("metagenome")(dna.simulate_metagenome_command)
