"""Opening a sequence file once, front to back: a file, a FIFO or ``-`` (standard input), plain or compressed."""

from __future__ import annotations

import bz2
import gzip
import io
from pathlib import Path
from typing import IO, Any

from biocl.utils.errors import BioclError

__all__ = ["STDIN", "open_text"]

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"

#: What a command line may give instead of a file name to read standard input.
STDIN = "-"


class _TextHandle(io.TextIOWrapper):
    """A text stream that also closes the file under its decompressor (never standard input)."""

    def __init__(self, stream: IO[bytes], underlying: IO[bytes] | None):
        super().__init__(stream, encoding="utf-8", errors="surrogateescape")
        self._underlying = underlying

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._underlying is not None:
                self._underlying.close()


def _open_binary(path: Path) -> tuple[IO[bytes], bool]:
    """The file's bytes (``-``: standard input) and whether biocl opened it (and must close it)."""
    import stat
    import sys

    if str(path) == STDIN:
        return sys.stdin.buffer, False
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise BioclError("no such file", path=path, hint="check the path") from None
    except OSError as err:
        raise BioclError(f"cannot read the file ({err.strerror or type(err).__name__})", path=path) from None
    if stat.S_ISDIR(mode):
        raise BioclError("is a folder, not a FASTA/FASTQ file", path=path,
                         hint="give the sequence file inside it")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        raise BioclError("is not a file, a pipe or standard input", path=path, hint="give a FASTA/FASTQ file")
    try:
        return open(path, "rb"), True
    except OSError as err:
        raise BioclError(f"cannot read the file ({err.strerror or type(err).__name__})", path=path) from None


def open_text(path: str | Path) -> IO[str]:
    """Open a plain, gzip or bzip2 text file for reading, sniffing the compression.

    The compression is read from the magic bytes, never from the file name, so a
    ``.fa.gz`` that is really plain text (or the reverse) still opens. The file is read
    once, front to back, so a pipe (``<(zcat x.fa.gz)``, a FIFO) or standard input (``-``)
    works as well as a file. Text is UTF-8; bytes that are not UTF-8 are kept as lone
    surrogates (``surrogateescape``) so the caller can report them with the record they
    sit in.

    Parameters
    ----------
    path : str | Path
        The file, a FIFO, or ``"-"`` for standard input.

    Returns
    -------
    handle : text file object
        Iterate it line by line; close it (or use it in a ``with`` block).

    Raises
    ------
    BioclError
        Missing, a folder, or not readable.
    """
    path = Path(path) if str(path) != STDIN else Path(STDIN)
    raw, owned = _open_binary(path)
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    magic = buffered.peek(3)[:3]
    underlying = buffered if owned else None
    if magic.startswith(_GZIP_MAGIC):
        return _TextHandle(gzip.GzipFile(fileobj=buffered, mode="rb"), underlying)
    if magic.startswith(_BZIP2_MAGIC):
        return _TextHandle(bz2.BZ2File(buffered, "rb"), underlying)
    return _TextHandle(buffered, None) if owned else _TextHandle(_Unclosed(buffered), None)


class _Unclosed(io.RawIOBase):
    """Standard input seen through a stream whose ``close`` leaves it open."""

    def __init__(self, stream: IO[bytes]):
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read1(len(buffer)) if hasattr(self._stream, "read1") else self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
