"""Global options and output: one JSON document on stdout with --json, logs on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

__all__ = ["state", "emit", "DEVICE_OPTION", "THREADS_OPTION", "OVERWRITE_OPTION", "runtime_overrides",
           "output_folder", "embeddings_paths", "run_folder"]


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

#: ``--overwrite`` of every writing command: without it an existing, non-empty output is refused (exit 2).
OVERWRITE_OPTION = typer.Option(False, "--overwrite", help="Replace an existing, non-empty output (without it "
                                "the command refuses, exit 2).")


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


def embeddings_paths(out: Path) -> tuple[Path, Path]:
    """The ``.npy`` file and the ``.ids.txt`` file an embedding command writes for ``--out``."""
    npy = out if out.suffix == ".npy" else out.with_name(out.name + ".npy")
    return npy, npy.with_suffix(".ids.txt")


def run_folder(out: Path | None, resume: Path | None, overwrite: bool) -> Path | None:
    """The run folder of ``biocl run``-like commands, checked before any work (the existing-output rule).

    ``--resume FOLDER`` continues a run, ``--overwrite`` replaces one (the folder is emptied
    first, so no checkpoint of the old run is resumed by mistake); an existing, non-empty
    ``--out`` is refused otherwise. None: the default, new, time-stamped folder.
    """
    from biocl.pipelines.runs import live_lock_holder
    from biocl.utils.errors import BioclError
    from biocl.utils.io import check_output

    if resume is not None:
        if out is not None or overwrite:
            raise BioclError("--resume continues a run folder; it takes neither --out nor --overwrite",
                             path=resume, hint=f"--resume {resume} alone")
        return resume
    if out is None:
        return None
    holder = live_lock_holder(out)
    if holder is not None:  # a live run's folder is neither refilled nor emptied (a dead one's lock is stale)
        raise BioclError(f"the run folder is in use by process {holder}", path=out,
                         hint="wait for it to finish or choose another --out")
    return check_output(out, overwrite=overwrite, resume=f"--resume {out}", clear=True)
