"""Where biocl keeps what it can recompute: simulated data sets and feature caches."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir", "CACHE_ENV"]

#: Environment variable that moves the cache (e.g. to a scratch disk on a cluster).
CACHE_ENV = "BIOCL_CACHE"


def default_cache_dir() -> Path:
    """``$BIOCL_CACHE`` if set, else ``.biocl_cache`` in the working folder.

    Runs, feature caches and simulations all resolve their cache folder here, so one
    variable moves all of it.
    """
    return Path(os.environ.get(CACHE_ENV, ".biocl_cache"))
