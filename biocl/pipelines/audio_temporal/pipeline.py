"""Temporal post-training of an audio-language model: pretraining, TeminAL A and B, ZSTE before and after.

The run (TeminAL and ZSTE as Sinha et al. 2024 describe them, with the authors' flaws fixed):

1. read the sounds (simulated in the ESC-50 layout by default, or a real data set), fit every
   clip to ``clip_s`` (pad or trim, deterministic), split clips per class into training and
   evaluation clips, and split the unordered class *pairs* into post-training pairs and
   held-out evaluation pairs, which are never composed during training (asserted;
   :mod:`~biocl.pipelines.audio_temporal.data`);
2. ``pretrain``: symmetric CLIP loss on (single clip, "this is a sound of <class>") pairs;
3. ``temin_a``: single-sound vs combined-sound captions in one 2N x 2N grid (CLIP loss);
4. ``temin_b``: forward, reversed and overlapped versions of N pairs in one 3N x 3N grid
   with the TNCE loss, training only the layers the protocol names (the model, losses and
   phases: :mod:`~biocl.pipelines.audio_temporal.training`; their batches:
   :mod:`~biocl.pipelines.audio_temporal.batches`);
5. every metric (ZSTE 1-5, CompA-order, retrieval) on the held-out pairs before
   post-training (after ``pretrain``) and after it, side by side
   (:mod:`~biocl.pipelines.audio_temporal.evaluation`; the report material:
   :mod:`~biocl.pipelines.audio_temporal.details`).

The primary endpoint is ZSTE task 3 after post-training; its resampling unit is the
composed clip (a forward or reversed join), whose 0/1 correctness is the unit value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from biocl.evaluate.zste import ZsteResult
from biocl.pipelines.audio_temporal.batches import PhaseBatches
from biocl.pipelines.audio_temporal.data import PreparedData, prepare_data
from biocl.pipelines.audio_temporal.details import run_details
from biocl.pipelines.audio_temporal.evaluation import chance_levels, evaluate_model
from biocl.pipelines.audio_temporal.training import Trainee, build_model, check_vocabulary, phase_specs
from biocl.pipelines.runs import PipelineResult, RunContext
from biocl.protocols.base import Protocol
from biocl.utils.io import sha256_files

__all__ = ["run"]


def run(protocol: Protocol, context: RunContext) -> PipelineResult:
    """Run an ``audio_temporal`` protocol; see the module docstring."""
    from biocl.train.trainer import Trainer
    from biocl.utils.weights import load_weights

    model, prepared = _model_and_data(protocol, context)
    trainee = Trainee(model, protocol)
    specs = phase_specs(protocol, trainee, PhaseBatches(model, prepared, protocol))
    trainer = Trainer(trainee, protocol.train, run=context, seed=protocol.seed)
    trained_before_posttraining = any(s.phase.name == "pretrain" and s.phase.epochs > 0 for s in specs)
    before = None if trained_before_posttraining else evaluate_model(model, prepared, protocol)
    fit = trainer.fit(specs)
    if before is None:
        final_state = {k: v.detach().clone() for k, v in trainee.state_dict().items()}
        load_weights(trainee, fit.best["pretrain"])
        before = evaluate_model(model, prepared, protocol)
        trainee.load_state_dict(final_state)
    after = evaluate_model(model, prepared, protocol)
    model_dir = context.run_dir / "model"
    sha = model.save(model_dir) if context.is_main else ""
    units = after.per_item["task3"]
    unit_ids = [f"{pid}:{kind}" for kind in ("forward", "reversed") for pid in prepared.items.pair_ids]
    details = run_details(protocol, prepared, before, after, model=model, model_path=model_dir / "model.safetensors",
                          model_sha256=sha, fit=fit, device=trainer.device.type,
                          trainable={s.phase.name: s.phase.trainable or ["(all)"] for s in specs})
    # Keyed like the run's metrics: what each baseline scores on zste_task3_after and the rest.
    baselines = {"before_post_training": {f"{k}_after": v for k, v in before.metrics.items()},
                 "chance": {f"{k}_after": v for k, v in chance_levels(prepared, protocol).items()}}
    return PipelineResult(metrics=_metrics(before, after, model), baselines=baselines, data=_provenance(prepared),
                          primary_unit_values=units.tolist(), primary_unit_ids=unit_ids, details=details)


def _model_and_data(protocol: Protocol, context: RunContext) -> tuple[nn.Module, PreparedData]:
    """A loaded model reads the data at its own rate; a fresh one is built for the data's captions."""
    if protocol.model.init_from or protocol.model.kind == "hf_clap":
        model = build_model(protocol)
        prepared = prepare_data(protocol, sample_rate_hz=model.sample_rate_hz, cache_dir=context.cache_dir)
        check_vocabulary(model, prepared.vocabulary_captions(protocol), protocol)
    else:
        prepared = prepare_data(protocol, cache_dir=context.cache_dir)
        model = build_model(protocol, prepared.vocabulary_captions(protocol))
    return model, prepared


def _metrics(before: ZsteResult, after: ZsteResult, model: nn.Module) -> dict[str, float]:
    metrics = {}
    for name in before.metrics:
        metrics[f"{name}_before"] = before.metrics[name]
        metrics[f"{name}_after"] = after.metrics[name]
    metrics["zste_task1_change"] = after.metrics["zste_task1"] - before.metrics["zste_task1"]
    metrics["logit_scale_after"] = float(np.exp(model.log_scale_value()))
    return metrics


def _provenance(prepared: PreparedData) -> dict[str, Any]:
    data = {k: v for k, v in prepared.provenance.items() if k != "path"}
    if "sha256" not in data:
        data["sha256"] = sha256_files(prepared.dataset.files(), root=prepared.dataset.root
                                      if prepared.dataset.root.is_dir() else prepared.dataset.root.parent)
    return data
