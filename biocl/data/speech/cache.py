"""An on-disk cache of computed feature arrays, keyed by content.

A key is a dict of everything the result depends on: the function's name and version, its
parameters, and the input files. Every :class:`~pathlib.Path` in the key is replaced by the
SHA-256 of the file's bytes, so a renamed or moved file still hits and an edited one misses.
The key's canonical JSON is hashed (SHA-256) into the file name ``<root>/<h[:2]>/<h>.npy``;
a ``.json`` beside it records the key for whoever inspects the folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from biocl.utils.cache import default_cache_dir
from biocl.utils.io import atomic_path, sha256_bytes, sha256_file, write_json

__all__ = ["FeatureCache"]


class FeatureCache:
    """Compute an array once, read it from disk afterwards.

    Parameters
    ----------
    root : str | Path | None
        Cache folder (created on first write); :func:`default_cache_dir` when None. Pass
        ``RunContext.cache_dir`` inside a run.

    Attributes
    ----------
    hits, misses : int
        How many :meth:`get_or_compute` calls were answered from disk / computed.

    Notes
    -----
    Files are written atomically, so two processes computing the same key at once both
    succeed and the last rename wins with identical content. A file that cannot be read
    back (truncated by a full disk, say) counts as a miss and is rewritten.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0
        self._file_hashes: dict[tuple[str, int, int], str] = {}

    def key_hash(self, key: dict[str, Any]) -> str:
        """SHA-256 of the key's canonical JSON, files replaced by their content hash."""
        canonical = json.dumps(self._canonical(key), sort_keys=True, separators=(",", ":"))
        return sha256_bytes(canonical.encode("utf-8"))

    def path_for(self, key: dict[str, Any]) -> Path:
        """Where the array of ``key`` is (or would be) stored."""
        digest = self.key_hash(key)
        return self.root / digest[:2] / f"{digest}.npy"

    def get_or_compute(self, key: dict[str, Any], compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for ``key``, or ``compute()`` stored under it.

        Parameters
        ----------
        key : dict
            JSON-serialisable values, plus :class:`~pathlib.Path` (hashed by content) and
            numpy scalars/arrays (written out). Include a name and version of the computation.
        compute : callable
            Returns the array; called only on a miss.

        Returns
        -------
        np.ndarray
            The same values whether computed now or read back.
        """
        path = self.path_for(key)
        if path.exists():
            try:
                array = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                array = None
            if array is not None:
                self.hits += 1
                return array
        self.misses += 1
        array = np.asarray(compute())
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, array, allow_pickle=False)
        write_json(path.with_suffix(".json"), self._canonical(key))
        return array

    def _canonical(self, value: Any) -> Any:
        if isinstance(value, Path):
            return {"file_sha256": self._file_hash(value)}
        if isinstance(value, dict):
            return {str(k): self._canonical(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._canonical(v) for v in value]
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        raise TypeError(f"cache keys hold JSON values, paths and arrays, not {type(value).__name__}")

    def _file_hash(self, path: Path) -> str:
        stat = path.stat()
        # Hashing a long recording takes seconds; the same file is named in many keys.
        memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo not in self._file_hashes:
            self._file_hashes[memo] = sha256_file(path)
        return self._file_hashes[memo]
