"""What every layer shares: the user-facing error, soft imports, shared docstring text, seeding, files.

- :mod:`~biocl.utils.errors`: :class:`BioclError`, the one exception users see;
- :mod:`~biocl.utils.imports`: :func:`soft_import` of optional packages, naming the extra;
- :mod:`~biocl.utils.docs`: the :data:`docdict` of shared parameter text and :func:`fill_doc`;
- :mod:`~biocl.utils.seeding`: :func:`seeded`, scoped seeding of torch's global generators;
- :mod:`~biocl.utils.cache`: :func:`default_cache_dir`, the one rule for the cache folder;
- :mod:`~biocl.utils.io`: atomic writes and SHA-256 hashes;
- :mod:`~biocl.utils.weights` (safetensors weights files), :mod:`~biocl.utils.console`
  (logging and progress) and :mod:`~biocl.utils.templates` (caption templates) are imported
  from their modules: they bring torch, rich or domain rules that most importers of
  :mod:`biocl.utils` do not need (the command line imports it before it knows the command).
"""

from biocl.utils.cache import default_cache_dir
from biocl.utils.docs import docdict, fill_doc
from biocl.utils.errors import BioclError
from biocl.utils.imports import install_hint, soft_import
from biocl.utils.io import atomic_path, sha256_bytes, sha256_file, sha256_files, write_json, write_text
from biocl.utils.seeding import seeded

__all__ = [
    "BioclError", "soft_import", "install_hint", "docdict", "fill_doc", "seeded", "default_cache_dir",
    "atomic_path", "write_json", "write_text", "sha256_file", "sha256_bytes", "sha256_files",
]
