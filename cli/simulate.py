"""`biocl simulate meg|dna|audio`: write simulated data sets in the real file formats."""

from __future__ import annotations

import typer

app = typer.Typer(help="Write simulated data sets (BIDS/FIF, FASTA/FASTQ, WAV) that the real readers load.",
                  no_args_is_help=True)
