"""Small file helpers shared by every layer: atomic files and folders, output checks, content hashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_directory", "check_output_dir", "check_output", "existing_output_error",
           "check_result_folder", "result_folder", "write_json", "write_text", "sha256_file", "sha256_bytes",
           "sha256_files", "write_error_message", "os_error_message"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    A reader never sees a half-written file: either the old content or the new one.
    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); outputs should get the usual umask-derived mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def check_output_dir(path: str | Path, *, overwrite: bool = False) -> Path:
    """Check, before any work, that ``path`` can become an output folder; return it.

    The folder may not exist yet (its nearest existing parent must then be a writable
    folder); an existing one must be a writable folder, and empty unless ``overwrite``.
    Nothing is created.

    Raises
    ------
    BioclError
        Naming the path and what to do: it is a file, is not writable, or is not empty.
    """
    from biocl.utils.errors import BioclError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BioclError("the output location is a file, not a folder", path=path,
                         hint="give a folder path (it is created if missing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise BioclError(f"cannot create the output folder: {existing} is a file", path=path,
                         hint="give a path under a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BioclError(f"cannot write to {existing} (permission denied or a read-only file system)", path=path,
                         hint="choose a folder you can write to")
    if existing == path and not overwrite and any(path.iterdir()):
        raise BioclError("the output folder exists and is not empty", path=path,
                         hint="choose a new folder, or pass --overwrite to replace its results")
    return path


def _is_filled(path: Path) -> bool:
    """Whether ``path`` holds something a command would replace: a non-empty file or folder."""
    if path.is_dir():
        return any(path.iterdir())
    return path.exists() and path.stat().st_size > 0


def existing_output_error(path: str | Path, *, resume: str | None = None) -> Exception:
    """The one refusal every command gives for an existing output: the path, then the fix.

    Parameters
    ----------
    path : str | Path
        The existing, non-empty file or folder.
    resume : str | None
        How to continue it instead (``"--resume FOLDER"``), for commands that can.
    """
    from biocl.utils.errors import BioclError

    path = Path(path)
    kind = "folder" if path.is_dir() else "file"
    fixes = [f"{resume} to continue it"] if resume else []
    fixes += ["--overwrite to replace it"]
    return BioclError(f"the output {kind} already exists and is not empty", path=path,
                      hint=f"pass {', or '.join(fixes)}, or choose another --out")


def check_output(path: str | Path, *, overwrite: bool = False, folder: bool = True,
                 also: tuple[str | Path, ...] = (), resume: str | None = None, clear: bool = False) -> Path:
    """Check an output before any work: refuse an existing, non-empty one unless ``overwrite``.

    Every writing command calls this first thing, so all of them treat an existing output
    the same way (the README, "Existing outputs"). Nothing is written unless ``clear``.

    Parameters
    ----------
    path : str | Path
        The output folder (``folder``) or file the command writes.
    overwrite : bool
        ``--overwrite`` was given: an existing output may be replaced.
    folder : bool
        ``path`` is a folder (else a file, whose folder must be writable).
    also : tuple of paths
        Further files the command writes beside ``path`` (``<out>.ids.txt``), checked the same way.
    resume : str | None
        The option that continues an existing output, named in the refusal (``"--resume FOLDER"``).
    clear : bool
        With ``overwrite``, empty an existing folder now, so nothing of the earlier output
        (a subject, a genome, a checkpoint) is mixed into the new one. The working folder,
        the home folder and the file-system root are never emptied.

    Raises
    ------
    BioclError
        The output exists and is not empty (without ``overwrite``), or cannot be written.
    """
    from biocl.utils.errors import BioclError

    path = Path(path)
    if folder:
        check_output_dir(path, overwrite=True)
    else:
        if path.is_dir():
            raise BioclError("the output is a folder; give the file to write", path=path,
                             hint=f"e.g. --out {path / 'embeddings.npy'}")
        check_output_dir(path.parent, overwrite=True)
    for target in (path, *map(Path, also)):
        if _is_filled(target) and not overwrite:
            raise existing_output_error(target, resume=resume)
    if clear and overwrite and path.is_dir() and any(path.iterdir()):
        _clear_folder(path)
    return path


def _clear_folder(path: Path) -> None:
    """Empty ``path``, unless it is the root, the home folder or a folder above the working one."""
    from biocl.utils.errors import BioclError

    resolved = path.resolve()
    protected = {Path(resolved.anchor), Path.home().resolve(), *Path.cwd().resolve().parents, Path.cwd().resolve()}
    if resolved in protected:
        raise BioclError("refusing to empty this folder for --overwrite (it is the working folder, one above it, "
                         "the home folder or the root)", path=path, hint="give a folder of its own with --out")
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` as a whole.

    A result set (bins and their tables, say) is written into the temporary folder, then
    renamed into place, so a reader sees the previous results or the new ones, never a
    mix; on an exception the temporary folder is removed and ``path`` is left as it was.
    An existing ``path`` is moved aside first and deleted only after the new folder is in
    place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    old = None
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.{os.getpid()}.old")
            os.replace(path, old)
        try:
            os.replace(tmp, path)
        except OSError:
            if old is not None:
                os.replace(old, path)
                old = None
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def result_folder(path: str | Path, *, previous: Callable[[Path], bool]) -> Iterator[Path]:
    """Check ``path`` before any work, then yield a folder to write a whole result set into.

    The check (:func:`check_output_dir`) runs when the block is entered, so call this
    before the expensive work and write at the end; the result appears at ``path`` only
    when the block succeeds (:func:`atomic_directory`), replacing a previous result as a
    whole. An existing non-empty folder is replaced only when ``previous(path)`` says it
    holds an earlier result of the same command; any other folder is refused, so a
    mistyped ``--out`` never deletes a user's files.

    Raises
    ------
    BioclError
        ``path`` is a file, is not writable, or is a non-empty folder of something else.
    """
    path = check_result_folder(path, previous=previous)
    with atomic_directory(path) as tmp:
        yield tmp


def check_result_folder(path: str | Path, *, previous: Callable[[Path], bool]) -> Path:
    """The check :func:`result_folder` makes, to call first thing, before any work; returns ``path``."""
    from biocl.utils.errors import BioclError

    path = check_output_dir(path, overwrite=True)
    if path.is_dir() and any(path.iterdir()) and not previous(path):
        raise BioclError("the output folder holds files that are not an earlier result of this command", path=path,
                         hint="choose a new or empty folder")
    return path


def os_error_message(err: OSError) -> str:
    """One true line for an ``OSError`` that reached the command line: which path, what failed, what to do."""
    where = err.filename or "a file"
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return f"{write_error_message(err, where)} (free some space or choose another --out; nothing was left " \
               "half-written)" if err.errno != errno.EROFS else f"{write_error_message(err, where)} (choose another --out)"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"cannot access {where}: permission denied (check the permissions, or choose another path)"
    if err.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return f"{where}: {err.strerror} (a file stands where a folder is needed, or the reverse; choose another path)"
    return f"{where}: {err.strerror or type(err).__name__} (check the path and the disk)"


def write_error_message(err: OSError, path: str | Path) -> str:
    """One line saying which write failed and why, for an ``OSError`` raised while writing ``path``."""
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied"}.get(
        err.errno, err.strerror or type(err).__name__)
    return f"cannot write {err.filename or path}: {reason}"


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_files(paths: list[str | Path], root: str | Path | None = None) -> str:
    """One SHA-256 over several files' names (relative to ``root``) and contents, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        name = str(path.relative_to(root)) if root is not None else path.name
        digest.update(name.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()
