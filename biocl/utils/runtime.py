"""The CPU threads a command may use: ``--threads`` of the long-running commands."""

from __future__ import annotations

from biocl.utils.errors import BioclError

__all__ = ["set_threads"]


def set_threads(threads: int | None) -> None:
    """Limit torch's and the BLAS libraries' CPU threads to ``threads`` (None: leave them as they are).

    Raises
    ------
    BioclError
        ``threads`` is below 1.
    """
    if threads is None:
        return
    if threads < 1:
        raise BioclError(f"--threads must be at least 1, not {threads}")
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it BLAS keeps its own count
        return
    threadpool_limits(threads)
