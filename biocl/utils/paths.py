"""Which paths a protocol may name: never a system location, never another user's file unless asked.

A protocol is a file that may come from someone else; what it names is read and, when it
is wrong, described in an error message. So the paths a protocol resolves
(:meth:`biocl.protocols.base.Protocol.resolve_path`) pass :func:`check_protocol_path`:

* a path that resolves (symbolic links and ``..`` followed) into a system location
  (:data:`SYSTEM_LOCATIONS`) is refused wherever it was written, in the file or with
  ``--set``: no data set lives there;
* a path to a file or folder owned by another user is refused when the protocol file
  wrote it, and allowed when it was given on the command line (``--set``), where the user
  typed it themself.

Files given as command arguments (``biocl dna bin FILE``) are the user's own choice and
are not checked here; every reader still reports problems without quoting the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from biocl.utils.errors import BioclError

__all__ = ["SYSTEM_LOCATIONS", "check_protocol_path"]

#: Folders a protocol may not read from (``/root`` only when it is not the user's home).
SYSTEM_LOCATIONS = ("/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/run", "/var/log", "/var/run", "/var/lib",
                    "/var/spool", "/var/mail", "/usr/lib", "/lib", "/lib64", "/bin", "/sbin", "/usr/bin", "/usr/sbin")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_protocol_path(path: str | Path, *, key: str | None = None, from_command_line: bool = False) -> Path:
    """Return ``path`` when a protocol may read it; refuse system locations and other users' files.

    Parameters
    ----------
    path : str | Path
        The path as the protocol resolved it (absolute, or relative to the working folder).
    key : str | None
        The protocol key that names it, for the message.
    from_command_line : bool
        The value was given with ``--set``: another user's file is then allowed.

    Raises
    ------
    BioclError
        Naming the path (as written, not its content) and which rule refused it.
    """
    path = Path(path)
    resolved = Path(os.path.realpath(path))
    home = Path(os.path.realpath(Path.home()))
    named = f"{key} names" if key else "the protocol names"
    for location in SYSTEM_LOCATIONS:
        folder = Path(location)
        if _inside(resolved, folder) and not (location == "/root" and _inside(home, folder)):
            raise BioclError(f"{named} {resolved}, a system location a protocol may not read", path=path,
                             hint="data sets must lie outside " + ", ".join(SYSTEM_LOCATIONS[:6])
                                  + ", ... (see docs/hardening.md)")
    if from_command_line:
        return path
    try:
        owner = resolved.stat().st_uid
    except OSError:
        return path  # a missing path is reported by whoever reads it
    if owner not in (os.getuid(), 0):  # root's files outside the system locations are shared installs
        raise BioclError(f"{named} a file of another user (uid {owner}); a protocol file may only name yours",
                         path=path, hint=f"if you mean it, give it on the command line: --set {key or 'KEY'}=PATH")
    return path
