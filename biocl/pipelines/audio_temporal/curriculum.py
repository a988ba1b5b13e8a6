"""Running part of a protocol's curriculum: `biocl audio pretrain` and `biocl audio posttrain`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biocl.protocols.base import Protocol
from biocl.utils.errors import BioclError

__all__ = ["select_phases", "run_phases"]


def select_phases(protocol: Protocol, names: Sequence[str]) -> Protocol:
    """Keep only the phases named ``names`` of ``protocol`` (in its order), edited in place.

    The first phase kept starts from the model the protocol gives (``model.init_from``, a
    pretrained CLAP, or fresh weights), not from a phase that no longer runs: its
    ``init_from: previous`` becomes ``none``.

    Raises
    ------
    BioclError
        When the protocol has none of those phases.
    """
    phases = [p for p in protocol.phases() if p.name in names]
    if not phases:
        raise BioclError(f"the protocol has no {' or '.join(names)} phase", path=protocol.source_path,
                         hint="see train.phases")
    phases[0] = phases[0].model_copy(update={"init_from": "none" if phases[0].init_from == "previous"
                                             else phases[0].init_from})
    protocol.train.phases = phases
    return protocol


def run_phases(protocol: Protocol, names: Sequence[str], out: str | Path | None = None
               ) -> tuple[Path, dict[str, Any]]:
    """Run only the phases ``names`` of an ``audio_temporal`` protocol (see :func:`select_phases`).

    Parameters
    ----------
    protocol : Protocol
        The protocol; its curriculum is edited in place.
    names : sequence of str
        Phases to keep, e.g. ``("pretrain",)`` or ``("temin_a", "temin_b")``.
    out : str | Path | None
        Run folder (default ``runs/<name>-<UTC time>/``).

    Returns
    -------
    run_dir : Path
        The run folder; the trained model is in its ``model/``.
    results : dict
        The content of ``results.json``.
    """
    from biocl.pipelines import run_protocol

    return run_protocol(select_phases(protocol, names), out)
