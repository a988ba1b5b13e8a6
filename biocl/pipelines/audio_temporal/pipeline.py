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

Validation pairs and clips (apart from the test ones) choose each monitored phase's best
epoch (``evaluate.monitor``); the test pairs are scored once, at the end. Beside the model
and its state before post-training, a TeminAL-A-alone baseline is post-trained from the
same pretrained model on the same compositions with the plain CLIP loss and no reversed
hard negatives (``baselines["teminal_a_only"]``), so TNCE's effect is measured against an
equally trained model.

The primary endpoint is ZSTE task 3 after post-training; its resampling unit is the
held-out class pair (its forward and reversed joins and all their instances vary
together): the unit value is the pair's mean correctness, weighted by its number of joins.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from torch import nn

from biocl.evaluate.zste import ZsteResult
from biocl.pipelines.audio_temporal.batches import PhaseBatches
from biocl.pipelines.audio_temporal.data import PreparedData, prepare_data
from biocl.pipelines.audio_temporal.details import run_details
from biocl.pipelines.audio_temporal.evaluation import chance_levels, evaluate_model, validation_scorer
from biocl.pipelines.audio_temporal.quality import zero_shot_calibration
from biocl.pipelines.audio_temporal.training import Trainee, build_model, check_vocabulary, phase_specs
from biocl.pipelines.runs import PipelineResult, RunContext
from biocl.protocols.base import Protocol
from biocl.utils.console import info
from biocl.utils.io import sha256_files

__all__ = ["run", "class_pair_units"]


def run(protocol: Protocol, context: RunContext) -> PipelineResult:
    """Run an ``audio_temporal`` protocol; see the module docstring."""
    from biocl.train.trainer import Trainer
    from biocl.utils.weights import load_weights

    model, prepared = _model_and_data(protocol, context)
    trainee = Trainee(model, protocol)
    validate = validation_scorer(prepared, protocol)
    specs = phase_specs(protocol, trainee, PhaseBatches(model, prepared, protocol), validate)
    trainer = Trainer(trainee, protocol.train, run=context, seed=protocol.seed)
    trained_before_posttraining = any(s.phase.name == "pretrain" and s.phase.epochs > 0 for s in specs)
    scored_before: dict[str, Any] = {}
    before, start = (None, None) if trained_before_posttraining else (
        evaluate_model(model, prepared, protocol, record=scored_before), copy.deepcopy(model))
    fit = trainer.fit(specs)
    if before is None:
        final_state = {k: v.detach().clone() for k, v in trainee.state_dict().items()}
        load_weights(trainee, fit.best["pretrain"])
        before, start = evaluate_model(model, prepared, protocol, record=scored_before), copy.deepcopy(model)
        trainee.load_state_dict(final_state)
    # The test items are scored here, once, after every choice was made on validation.
    scored_after: dict[str, Any] = {}
    after = evaluate_model(model, prepared, protocol, record=scored_after)
    model_dir = context.run_dir / "model"
    sha = model.save(model_dir) if context.is_main else ""
    details = run_details(protocol, prepared, before, after, model=model, model_path=model_dir / "model.safetensors",
                          model_sha256=sha, fit=fit, device=trainer.device.type,
                          trainable={s.phase.name: s.phase.trainable or ["(all)"] for s in specs},
                          calibration=_calibration(prepared, scored_before, scored_after))
    # Keyed like the run's metrics: what each baseline scores on zste_task3_after and the rest.
    baselines = {"before_post_training": {f"{k}_after": v for k, v in before.metrics.items()},
                 "chance": {f"{k}_after": v for k, v in chance_levels(prepared, protocol).items()}}
    reference = _teminal_a_only(protocol, start, prepared, validate, trainer.device) \
        if protocol.evaluate.teminal_a_only_baseline else None
    if reference is not None:
        baselines["teminal_a_only"] = {f"{k}_after": v for k, v in reference[0].metrics.items()}
        details["teminal_a_only"] = _baseline_details(reference[0], after, reference[1])
    units, weights, unit_ids = class_pair_units(after.per_item["task3"], prepared)
    # The baselines' task 3 over the same class pairs, resampled as the primary endpoint is.
    scored = {"before_post_training": before, **({"teminal_a_only": reference[0]} if reference is not None else {})}
    details["metric_intervals"] = {name: {"zste_task3_after": _pair_interval(result, prepared, protocol)}
                                   for name, result in scored.items()}
    return PipelineResult(metrics=_metrics(before, after, model), baselines=baselines, data=_provenance(prepared),
                          primary_unit_values=units, primary_unit_weights=weights, primary_unit_ids=unit_ids,
                          details=details)


def _pair_interval(result: Any, prepared: PreparedData, protocol: Protocol) -> list[float]:
    from biocl.evaluate.stats import unit_interval

    values, weights, _ = class_pair_units(result.per_item["task3"], prepared)
    (low, high), _ = unit_interval(np.asarray(values), weights=np.asarray(weights),
                                   n_resamples=protocol.acceptance.ci_resamples, seed=protocol.acceptance.ci_seed)
    return [low, high]


def class_pair_units(task3: np.ndarray, prepared: PreparedData) -> tuple[list[float], list[float], list[str]]:
    """Task-3 correctness per held-out class pair: the mean over its joins, weighted by their number.

    The forward and reversed joins of one unordered pair and every instance of it share
    the pair's two classes, so they vary together: the pair, not the clip, is the unit the
    interval resamples. The weighted mean of the values is the task-3 accuracy.

    Parameters
    ----------
    task3 : ndarray, shape (2 n_items,)
        0/1 correctness of the forward joins, then of the reversed joins (``ZsteResult.per_item``).
    prepared : PreparedData
        Its test items give each join's classes.

    Returns
    -------
    values, weights, ids : lists
        Per pair (sorted by class index): mean correctness, number of joins, ``"a+b"``.
    """
    names = prepared.class_names
    keys = [tuple(sorted(int(k) for k in pair)) for pair in prepared.items.pair_classes] * 2
    values, weights, ids = [], [], []
    for key in sorted(set(keys)):
        mask = np.array([k == key for k in keys])
        values.append(float(np.mean(task3[mask])))
        weights.append(float(mask.sum()))
        ids.append(f"{names[key[0]]}+{names[key[1]]}")
    return values, weights, ids


def _teminal_a_only(protocol: Protocol, start: nn.Module, prepared: PreparedData, validate: Any, device: Any
                    ) -> tuple[ZsteResult, Any] | None:
    """Post-train a copy of the pretrained model with the plain CLIP loss instead of TNCE; score it on the test.

    Same post-training pairs, compositions, captions, phases, epochs, trainable layers and
    validation-chosen epochs as the model; only TeminAL B's in-batch reversed hard
    negatives and TNCE loss are missing. Its checkpoints stay in memory (no resume).
    """
    from biocl.train.trainer import Trainer

    trainee = Trainee(start, protocol)
    specs = phase_specs(protocol, trainee, PhaseBatches(start, prepared, protocol), validate, baseline=True)
    if not any(s.phase.epochs > 0 for s in specs):
        return None
    info("[audio] post-training the TeminAL-A-alone baseline (plain CLIP loss, no reversed hard negatives)")
    fit = Trainer(trainee, protocol.train, run=None, seed=protocol.seed, device=device).fit(specs)
    return evaluate_model(start, prepared, protocol), fit


def _baseline_details(result: ZsteResult, after: ZsteResult, fit: Any) -> dict[str, Any]:
    return {"description": ("the pretrained model post-trained on the same pairs, compositions and captions for as "
                            "many epochs, with the plain CLIP loss and no reversed joins in a batch (TeminAL A "
                            "alone); the model's gain over it is TNCE's"),
            "metrics": dict(result.metrics),
            "model_minus_baseline": {m: after.metrics[m] - result.metrics[m] for m in result.metrics},
            "phases": [{k: r[k] for k in r if k in ("phase", "epoch", "train_loss") or k.startswith("val_")}
                       for r in fit.history]}


def _calibration(prepared: PreparedData, scored_before: dict[str, Any], scored_after: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """Zero-shot classification's calibration after and before post-training, from the scored embeddings."""
    out = []
    for when, scored in (("after post-training", scored_after), ("before post-training", scored_before)):
        if {"singles", "prompts", "log_scale"} <= set(scored):
            out.append(zero_shot_calibration(scored["singles"], scored["prompts"], scored["log_scale"],
                                             prepared.items, name=f"zero-shot classification (task 1), {when}"))
    return out


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
