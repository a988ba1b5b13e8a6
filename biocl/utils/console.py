"""Logging and progress for people: everything goes to stderr, only rank 0 draws."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["console", "set_quiet", "is_quiet", "info", "progress"]

T = TypeVar("T")

#: The rich console every message and progress bar is drawn on (stderr).
console = Console(stderr=True, highlight=False)
_quiet = os.environ.get("BIOCL_QUIET", "") not in ("", "0")


def set_quiet(quiet: bool) -> None:
    """Silence logs and progress bars (errors are still printed by the command line)."""
    global _quiet
    _quiet = quiet
    os.environ["BIOCL_QUIET"] = "1" if quiet else "0"


def is_quiet() -> bool:
    """Whether logs and progress are silenced, for this process or because it is not rank 0."""
    return _quiet or int(os.environ.get("RANK", "0")) != 0


def info(message: str) -> None:
    """A log line on stderr."""
    if not is_quiet():
        console.print(message)


def warn(message: str) -> None:
    """A warning about the user's data on stderr: printed even when quiet (quiet silences logs, not warnings)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"warning: {' '.join(message.split())}", file=sys.stderr)


def progress(items: Iterable[T], *, total: int | None = None, description: str = "") -> Iterator[T]:
    """Iterate with a rich progress bar on stderr (none when quiet, on other ranks, or off a terminal)."""
    if is_quiet() or not console.is_terminal:
        yield from items
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
