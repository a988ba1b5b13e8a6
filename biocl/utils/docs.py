"""Parameter text that many functions share, written once (MNE's ``mne/utils/docs.py``).

A docstring names an entry as ``%(seed)s`` and its function is decorated with
:func:`fill_doc`; the entry's text, indented to the docstring's parameter level, replaces
it. A name missing from :data:`docdict` is an error at import time, so a typo cannot ship.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["docdict", "fill_doc"]

Documented = TypeVar("Documented", bound=Callable)

#: Shared parameter text by name: each entry is a numpydoc parameter, its type line first.
docdict: dict[str, str] = {
    "seed": """seed : int
    Seed of every random choice (a ``numpy.random.Generator`` and ``torch.Generator`` are
    derived from it; the caller's global generators are left as they were). The same seed
    gives the same result on the same machine.""",
    "device": """device : {"auto", "cpu", "cuda"}
    Where to compute: ``"auto"`` takes CUDA when available (with bf16 autocast), else the
    CPU.""",
    "threads": """threads : int | None
    CPU threads for torch and BLAS; None keeps the current setting.""",
    "tau": """tau : float
    Temperature dividing the similarities; smaller is sharper (DNABERT-S: 0.05, SimCLR and
    SupCon: 0.1, MoCo: 0.07).""",
    "gather": """gather : bool
    Under data parallelism, score this process's rows against the columns of every process
    (the whole global batch as negatives); gradients flow back to the rank each column came
    from.""",
    "logit_scale": """logit_scale : Tensor | float | None
    The *log* of the factor multiplying the similarities (``exp(logit_scale)``, CLIP's
    convention); None uses the similarities as they are.""",
    "trust_remote_code": """trust_remote_code : bool
    Allow Python code shipped inside a Hugging Face folder (``auto_map`` in its
    ``config.json``) to run. Only the user turns it on (``--trust-remote-code``, or
    ``model.trust_remote_code: true`` in a protocol), for folders they trust.""",
    "queries": """queries : Tensor of shape (n, d)
    The local rows: each is scored against every candidate.""",
    "candidates": """candidates : Tensor of shape (m, d)
    The columns each query is scored against (all ranks' when gathered).""",
    "labels": """labels : Tensor of shape (n,), long | None
    Global column of each row's positive (under data parallelism,
    :func:`biocl.heads.distributed.rank_offset_labels`); ``arange(n)`` when None.""",
    "normalize": """normalize : bool
    L2-normalise the embeddings first (idempotent after a normalising head).""",
    "normalize_mode": """normalize : {"both", "candidates", "none"}
    ``"both"``: cosine similarity (CLIP). ``"candidates"``: ``<q_i, c_j> / ||c_j||``, the
    query left as is (brainmagick). ``"none"``: raw dot products.""",
    "lam": """lam : Tensor of shape (n,)
    Weight of each sample's own part in its mix, in [0.5, 1]
    (:func:`biocl.heads.mixing.sample_mix`); the partner gets ``1 - lam``.""",
    "tnce_weights": """a_same, a_cross : float
    Extra denominator weight of a row's own reversed-order column, and of every other
    ordered column (each must exceed -1; 0 leaves a column at weight 1).""",
}


def _indent(text: str, prefix: str) -> str:
    first, *rest = text.splitlines()
    return "\n".join([first, *(prefix + line for line in rest)])


def fill_doc(func: Documented) -> Documented:
    """Replace ``%(name)s`` in ``func.__doc__`` with :data:`docdict` entries, indented to fit."""
    doc = func.__doc__
    if not doc:
        return func
    lines = doc.splitlines()
    filled = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            name = stripped[2:-2]
            if name not in docdict:
                raise KeyError(f"{func.__qualname__}: no shared docstring entry {name!r} in biocl.utils.docs")
            prefix = line[: len(line) - len(stripped)]
            filled.append(prefix + _indent(docdict[name], prefix))
        else:
            filled.append(line)
    func.__doc__ = "\n".join(filled)
    return func
