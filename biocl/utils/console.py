"""Logging and progress for people: ``logging`` through rich on stderr, a ``run.log`` per run folder.

Every message goes through the ``biocl`` logger. On a terminal it is drawn by rich's
handler (markup off, so ``[audio]`` stays ``[audio]``) and long steps get a progress bar
with rate and current loss that stays on screen when done. Off a terminal (SLURM, nohup,
a pipe) each message and each finished stage is one plain line with a timestamp, and no
bar is drawn. :func:`run_log` adds a ``run.log`` file at debug level to a run folder. Only
rank 0 speaks; ``--quiet`` silences stderr but never the run log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.logging import RichHandler
from rich.text import Text
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

__all__ = ["console", "logger", "set_quiet", "set_debug", "is_quiet", "info", "debug", "warn", "progress", "stage",
           "run_log", "stage_label", "loss_status", "RUN_LOG"]

T = TypeVar("T")

#: The rich console every message and progress bar is drawn on (stderr).
console = Console(stderr=True, highlight=False)
#: The logger of the whole package; handlers are attached once, below.
logger = logging.getLogger("biocl")
#: The file name of a run folder's log.
RUN_LOG = "run.log"
_quiet = os.environ.get("BIOCL_QUIET", "") not in ("", "0")
_debug = False
#: A :func:`stage` spinner is on screen: rich draws one live display at a time, so a bar inside waits.
_stage_live = False
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Training phases in the user's words (what a progress bar says); other names are shown as they are.
_STAGE_WORDS = {
    "weighted_simclr": "self-training the encoder",
    "mimix": "refining the encoder on mixed sequences (MI-Mix)",
    "pretrain": "pretraining the sound and caption encoders",
    "temin_a": "post-training on sound pairs (TeminAL A)",
    "temin_b": "post-training on ordered sound sequences (TeminAL B)",
    "train": "training the decoder",
}


class _StderrFilter(logging.Filter):
    """Let a record reach stderr unless quiet, on another rank, or debug-level without --debug."""

    def filter(self, record: logging.LogRecord) -> bool:
        if is_quiet():
            return record.levelno >= logging.ERROR
        return record.levelno >= logging.INFO or _debug


class _StderrHandler(logging.Handler):
    """Rich's handler on a terminal; one plain, timestamped line per message off it (SLURM, nohup)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._rich = RichHandler(console=console, markup=False, highlighter=None, show_path=False,
                                 show_level=False, log_time_format="[%X]", rich_tracebacks=False)
        self._plain = logging.Formatter("{asctime} {message}", _TIME_FORMAT, style="{")
        self.addFilter(_StderrFilter())
        self.set_name("biocl-stderr")

    def emit(self, record: logging.LogRecord) -> None:
        if console.is_terminal:
            self._rich.emit(record)
            return
        try:  # sys.stderr as it is now (pytest and redirections replace it)
            sys.stderr.write(self._plain.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never break a run
            self.handleError(record)


def _configure() -> None:
    if not any(h.get_name() == "biocl-stderr" for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG)
    logger.propagate = False


def set_quiet(quiet: bool) -> None:
    """Silence logs and progress bars on stderr (errors are still printed; run.log still gets everything)."""
    global _quiet
    _quiet = quiet
    os.environ["BIOCL_QUIET"] = "1" if quiet else "0"


def set_debug(enabled: bool) -> None:
    """Show debug messages on stderr too (they always go to run.log)."""
    global _debug
    _debug = enabled


def is_quiet() -> bool:
    """Whether logs and progress are silenced, for this process or because it is not rank 0."""
    return _quiet or int(os.environ.get("RANK", "0")) != 0


def info(message: str) -> None:
    """A log line: stderr (unless quiet) and the open run logs."""
    logger.info(message)


def debug(message: str) -> None:
    """A line for run.log only (and stderr with --debug)."""
    logger.debug(message)


def warn(message: str) -> None:
    """A warning about the user's data: on stderr even when quiet (quiet silences logs, not warnings)."""
    text = " ".join(message.split())
    logger.debug(f"warning: {text}")  # run.log only: stderr gets the line below, whatever the level
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"warning: {text}", file=sys.stderr)


def stage_label(phase: str, epoch: int | None = None, epochs: int | None = None) -> str:
    """What a training phase is called on screen: ``self-training the encoder (epoch 1/2)``."""
    words = _STAGE_WORDS.get(phase, phase.replace("_", " "))
    if epoch is not None and epochs is not None and epochs > 1:
        words += f" (epoch {epoch}/{epochs})"
    return words


class _Loss:
    """The loss a bar shows; the trainer sets it after each step (``bar.loss = value``)."""

    def __init__(self) -> None:
        self.value: float | None = None


def progress(items: Iterable[T], *, total: int | None = None, description: str = "",
             status: _Loss | None = None, unit: str = "step") -> Iterator[T]:
    """Iterate, showing how far along: a rich bar on a terminal, one timestamped line per stage off it.

    Parameters
    ----------
    items : iterable
        What to iterate over.
    total : int | None
        How many items there are, when known.
    description : str
        The stage in the user's words (see :func:`stage_label`).
    status : object with a ``value`` attribute, optional
        Read after every item; its value (the current loss) is shown beside the bar and in the
        stage's closing line. Make one with :func:`loss_status`.
    unit : str
        What one item is ("step", "permutation"...), for the rate and the closing line.
    """
    started, count = time.perf_counter(), 0
    if is_quiet() or not console.is_terminal or _stage_live:
        for item in items:
            yield item
            count += 1
    else:
        # markup off: a description such as "[audio] ..." is shown as written, never parsed as a style.
        columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"),
                   TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(description, total=total, rate="", loss="")
            for item in items:
                yield item
                count += 1
                elapsed = max(time.perf_counter() - started, 1e-9)
                loss = "" if status is None or status.value is None else f"loss {status.value:.4f}"
                bar.update(task, advance=1, rate=f"{count / elapsed:.1f} {_plural(unit)}/s", loss=loss)
    elapsed = time.perf_counter() - started
    loss = "" if status is None or status.value is None else f", last loss {status.value:.4f}"
    # The closing line: on screen off a terminal (one line per stage), always in run.log.
    record = logger.info if not console.is_terminal else logger.debug
    record(f"{description}: {count}{'' if total is None else f'/{total}'} {_plural(unit)} in {elapsed:.1f} s{loss}")


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("ch", "sh", "s", "x")) else "s")


@contextlib.contextmanager
def stage(description: str) -> Iterator[None]:
    """Show a step that is one long call (a simulation, a PDF): a spinner on a terminal, one line off it.

    On a terminal a spinner with the elapsed time stands beside ``description`` while the
    block runs; off a terminal nothing is drawn. Either way the stage ends with one line,
    timestamped off a terminal (``writing the report: done in 4.2 s``), which run.log gets
    too. A stage that fails says so in run.log and lets the error through.

    Parameters
    ----------
    description : str
        The step in the user's words ("simulating MEG of 4 subjects").
    """
    global _stage_live
    started = time.perf_counter()
    live = not is_quiet() and console.is_terminal and not _stage_live
    status = console.status(Text(description), spinner="dots") if live else contextlib.nullcontext()
    try:
        with status:
            _stage_live = _stage_live or live
            yield
    except BaseException:
        logger.debug(f"{description}: stopped after {time.perf_counter() - started:.1f} s")
        raise
    finally:
        if live:
            _stage_live = False
    # The spinner vanishes when done, so the closing line is shown on a terminal too.
    logger.info(f"{description}: done in {time.perf_counter() - started:.1f} s")


def loss_status() -> _Loss:
    """A holder for the current loss that :func:`progress` shows beside its bar."""
    return _Loss()


@contextlib.contextmanager
def run_log(run_dir: str | Path, *, enabled: bool = True) -> Iterator[Path | None]:
    """Copy every message, debug level included, into ``run_dir/run.log`` while the block runs.

    The file is appended to, so a resumed run keeps the log of its first part.
    """
    if not enabled:
        yield None
        return
    path = Path(run_dir) / RUN_LOG
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("{asctime} {levelname:<7} {message}", _TIME_FORMAT, style="{"))
    logger.addHandler(handler)
    try:
        yield path
    except BaseException as err:
        logger.debug(f"run stopped: {type(err).__name__}: {err}")
        raise
    finally:
        logger.removeHandler(handler)
        handler.close()


_configure()
