"""The one exception type that users see.

Every error a user can cause (a bad file, a bad protocol, a missing checkpoint) is raised
as :class:`BioclError`. The command line turns it into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BioclError"]


class BioclError(Exception):
    """A problem with the user's input, with the file it concerns and what to do.

    Parameters
    ----------
    message : str
        What was wrong, in the user's words.
    path : str | Path | None
        The file or folder concerned, if any.
    hint : str | None
        What the user can do about it.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The error as the single line the command line prints."""
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return " ".join(text.split())
