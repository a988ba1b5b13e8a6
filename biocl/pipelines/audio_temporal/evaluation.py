"""Scoring a model of the audio pipeline: every ZSTE task, CompA-order and retrieval, and their chance levels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from biocl.evaluate.zste import CHANCE, ZsteResult, ZsteSet, ZsteTemplates, evaluate_zste
from biocl.pipelines.audio_temporal.data import PreparedData
from biocl.protocols.base import Protocol
from biocl.utils.templates import fill_template

__all__ = ["evaluate_model", "validation_scorer", "chance_levels", "evaluate_saved_model"]


def evaluate_model(model: nn.Module, prepared: PreparedData, protocol: Protocol, items: ZsteSet | None = None,
                   *, record: dict[str, Any] | None = None) -> ZsteResult:
    """Every ZSTE task, CompA-order and retrieval score of ``model`` on ``items`` (default: the test items).

    ``record``, when given, receives what task 1 scored, for its calibration without a
    second pass: ``singles`` (embeddings of ``items.singles``), ``prompts`` (of the class
    prompts) and ``log_scale``.
    """
    c, ev = protocol.data.captions, protocol.evaluate
    templates = ZsteTemplates(single=c.single, before=c.before, while_=c.overlap, first=c.first, second=c.second)
    items = prepared.items if items is None else items
    prompts = [fill_template(templates.single, name) for name in items.class_names]

    def embed_audio(waveforms: np.ndarray) -> np.ndarray:
        out = model.embed_audio(waveforms, batch_size=ev.batch_size)
        if record is not None and waveforms is items.singles:
            record["singles"] = out
        return out

    def embed_text(captions: list[str]) -> np.ndarray:
        out = model.embed_text(captions)
        if record is not None and list(captions) == prompts:
            record["prompts"] = out
        return out

    log_scale = model.log_scale_value()
    if record is not None:
        record["log_scale"] = float(log_scale)
    return evaluate_zste(embed_audio, embed_text, log_scale, items, templates,
                         n_task4_candidates=ev.n_task4_candidates, seed=protocol.seed)


def validation_scorer(prepared: PreparedData, protocol: Protocol) -> Callable[[nn.Module], dict[str, float]]:
    """The trainer's ``validate``: ZSTE tasks 1-5 and their mean on the validation pairs and clips.

    The returned function takes the trainee (a model with a ``clap`` attribute, or the
    dual encoder itself) and returns ``val_zste_task1`` ... ``val_zste_task5`` and
    ``val_zste_mean``; it never reads the test items.
    """
    def validate(trainee: nn.Module) -> dict[str, float]:
        model = getattr(trainee, "clap", trainee)
        metrics = evaluate_model(model, prepared, protocol, prepared.val_items).metrics
        tasks = {f"val_zste_task{k}": float(metrics[f"zste_task{k}"]) for k in range(1, 6)}
        return {**tasks, "val_zste_mean": float(np.mean(list(tasks.values())))}
    return validate


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
