"""Entry point of `biocl`: the Typer application, global options and error handling."""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import typer
from typer import Abort
from typer._click.exceptions import ClickException  # Typer 0.2x vendors click; no public name for it

from biocl.utils.console import set_debug, set_quiet
from biocl.utils.errors import BioclError
from biocl.utils.io import os_error_message
from biocl_cli import audio, decode, dna, doctor, protocols, report, run, simulate
from biocl_cli.help import GLOBAL_FLAGS, build_command
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
    json_output: bool = typer.Option(False, "--json", help=GLOBAL_FLAGS["--json"]),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=GLOBAL_FLAGS["--quiet"]),
    debug: bool = typer.Option(False, "--debug", help=GLOBAL_FLAGS["--debug"]),
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
    set_debug(state.debug)
    return kept


def _error_document(message: str, path: str | None = None, hint: str | None = None) -> None:
    """With --json an error is one JSON document on stdout too, so a script reading stdout sees it."""
    if state.json:
        sys.stdout.write(json.dumps({"error": message, "path": path, "hint": hint}, indent=2) + "\n")


def _invoke(args: list[str]) -> Any:
    """Parse and run; with --json, usage errors come back as exceptions instead of a rich panel."""
    command = build_command(app)
    if not state.json:
        return command.main(args=args, prog_name="biocl", standalone_mode=True)
    return command.main(args=args, prog_name="biocl", standalone_mode=False)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; user errors print one line on stderr and return 2."""
    args = _take_global_options(list(sys.argv[1:] if argv is None else argv))
    try:
        code = _invoke(args)
    except SystemExit as stop:  # Typer ends every command with sys.exit, usage errors with code 2
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except ClickException as err:  # only with --json: a usage error (unknown option, missing argument)
        print(f"error: {err.format_message()}", file=sys.stderr)
        _error_document(err.format_message(), hint="see biocl --help")
        return err.exit_code
    except Abort:  # only with --json (standalone click prints "Aborted!" itself)
        print("aborted", file=sys.stderr)
        return 1
    except BioclError as err:
        if state.debug:
            traceback.print_exc()
        print(f"error: {err.one_line()}", file=sys.stderr)
        _error_document(err.message, err.path, err.hint)
        return 2
    except OSError as err:  # a write or a file-system problem the user can fix: one line, exit 2
        if state.debug:
            traceback.print_exc()
        print(f"error: {os_error_message(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        _error_document("interrupted")
        return 130
    except Exception as err:  # a bug, not a user error: one line unless --debug
        if state.debug:
            raise
        print(f"internal error: {type(err).__name__}: {err} (rerun with --debug for the traceback, "
              "and please report it)", file=sys.stderr)
        _error_document(f"internal error: {type(err).__name__}: {err}",
                        hint="rerun with --debug for the traceback, and please report it")
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
