"""Scoring a model of the audio pipeline: every ZSTE task, CompA-order and retrieval, and their chance levels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from biocl.evaluate.zste import CHANCE, ZsteResult, ZsteTemplates, evaluate_zste
from biocl.pipelines.audio_temporal.data import PreparedData
from biocl.protocols.base import Protocol

__all__ = ["evaluate_model", "chance_levels", "evaluate_saved_model"]


def evaluate_model(model: nn.Module, prepared: PreparedData, protocol: Protocol) -> ZsteResult:
    """Every ZSTE task, CompA-order and retrieval score of ``model`` on the held-out pairs."""
    c, ev = protocol.data.captions, protocol.evaluate
    templates = ZsteTemplates(single=c.single, before=c.before, while_=c.overlap, first=c.first, second=c.second)
    return evaluate_zste(lambda w: model.embed_audio(w, batch_size=ev.batch_size), model.embed_text,
                         model.log_scale_value(), prepared.items, templates,
                         n_task4_candidates=ev.n_task4_candidates, seed=protocol.seed)


def chance_levels(prepared: PreparedData, protocol: Protocol) -> dict[str, float]:
    """What guessing scores, by metric name: the fixed ZSTE levels, and those that depend on the classes.

    Task 1 picks one of the ``c`` classes; task 4 one of ``evaluate.n_task4_candidates``
    captions, at most the whole pool (``c (c - 1)`` "X before Y" and ``c (c - 1) / 2``
    "X while Y" captions).
    """
    c = len(prepared.class_names)
    pool = c * (c - 1) + c * (c - 1) // 2
    return {**CHANCE, "zste_task1": 1 / c, "zste_task4": 1 / min(protocol.evaluate.n_task4_candidates, pool)}


def evaluate_saved_model(model_dir: str | Path, protocol: Protocol) -> dict[str, Any]:
    """Score a saved model (a run's ``model/``) on the protocol's held-out class pairs (`biocl audio evaluate`).

    Parameters
    ----------
    model_dir : str | Path
        A biocl model folder.
    protocol : Protocol
        An ``audio_temporal`` protocol: whose data and held-out pairs to use (read at the
        model's sample rate).

    Returns
    -------
    dict
        ``model``, ``protocol`` (its name), ``metrics``, ``n_held_out_pairs`` and ``n_items``.
    """
    from biocl.encoders.clap import load_clap
    from biocl.pipelines.audio_temporal.data import prepare_data

    clap = load_clap(model_dir)
    prepared = prepare_data(protocol, sample_rate_hz=clap.sample_rate_hz)
    result = evaluate_model(clap, prepared, protocol)
    return {"model": str(model_dir), "protocol": protocol.name, "metrics": result.metrics,
            "n_held_out_pairs": len(prepared.eval_pairs), "n_items": len(prepared.items.pair_ids)}
