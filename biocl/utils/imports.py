"""Optional dependencies: imported where they are needed, with an error naming the extra.

Like MNE's ``_soft_import``: the heavy packages that only some commands need (transformers
for pretrained checkpoints, faiss for approximate kNN, pysam for BAM files) are imported
inside the function that uses them, and a missing one is a :class:`BioclError` that says
which ``pip install`` fixes it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from biocl.utils.errors import BioclError

__all__ = ["soft_import", "install_hint", "EXTRAS"]

#: The pip extra that brings each optional package.
EXTRAS = {"transformers": "hf", "faiss": "faiss", "pysam": "bam"}


def install_hint(name: str) -> str:
    """What to run to install the optional package ``name``: ``pip install 'biocl[<extra>]'``.

    Packages that no extra brings are named as they are (``pip install <name>``).
    """
    extra = EXTRAS.get(name)
    return f"pip install 'biocl[{extra}]'" if extra else f"pip install {name}"


def soft_import(name: str, purpose: str, *, path: str | Path | None = None) -> ModuleType:
    """Import an optional package, or raise a one-line error naming the extra to install.

    Parameters
    ----------
    name : str
        The module to import (``"transformers"``, ``"faiss"``, ...).
    purpose : str
        What needs it, in the user's words: ``"loading a pretrained CLAP"``.
    path : str | Path | None
        The file or folder the error concerns, if any.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    BioclError
        When the package is not installed.
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        raise BioclError(f"{purpose} needs the `{name}` package, which is not installed", path=path,
                         hint=install_hint(name)) from None
