"""Entry point of `biocl`: the Typer application, global options and error handling."""

from __future__ import annotations

import sys
import traceback

import typer

from biocl.utils.console import set_quiet
from biocl.utils.errors import BioclError
from biocl.utils.io import os_error_message
from biocl_cli import audio, decode, dna, doctor, protocols, report, run, simulate
from biocl_cli.output import state

app = typer.Typer(
    name="biocl",
    help="Contrastive learning on biosignals and genomes: brain-to-speech decoding, "
    "species-aware DNA embedding and binning, temporal post-training of audio-language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    json_output: bool = typer.Option(False, "--json", help="Print exactly one JSON document on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No logs or progress bars."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    # The flags are taken out of the arguments by main() so they work after a subcommand too;
    # they are declared here for --help.
    del json_output, quiet, debug


app.command("run")(run.run)
app.command("doctor")(doctor.doctor)
app.add_typer(protocols.app, name="protocols")
app.add_typer(simulate.app, name="simulate")
app.add_typer(decode.app, name="decode")
app.add_typer(dna.app, name="dna")
app.add_typer(audio.app, name="audio")
app.add_typer(report.app, name="report")


_GLOBAL_FLAGS = {"--json": "json", "--quiet": "quiet", "-q": "quiet", "--debug": "debug"}


def _take_global_options(args: list[str]) -> list[str]:
    """Accept the global flags anywhere before ``--`` (``biocl doctor --json`` as well as ``biocl --json doctor``)."""
    end = args.index("--") if "--" in args else len(args)
    kept = []
    for position, arg in enumerate(args):
        if position < end and arg in _GLOBAL_FLAGS:
            setattr(state, _GLOBAL_FLAGS[arg], True)
        else:
            kept.append(arg)
    set_quiet(state.quiet or state.json)
    return kept


def main(argv: list[str] | None = None) -> int:
    """Run the command line; user errors print one line on stderr and return 2."""
    args = _take_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        app(args=args, prog_name="biocl")
    except SystemExit as stop:  # Typer ends every command with sys.exit, usage errors with code 2
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BioclError as err:
        if state.debug:
            traceback.print_exc()
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    except OSError as err:  # a write or a file-system problem the user can fix: one line, exit 2
        if state.debug:
            traceback.print_exc()
        print(f"error: {os_error_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not a user error: one line unless --debug
        if state.debug:
            raise
        print(f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback, "
              "and please report it)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
