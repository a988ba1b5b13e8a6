"""The report material of an audio pipeline run (``results.json``; see docs/design.md).

Flow and exclusions, the held-out pairs' disjointness, per-class subgroups, the worst
held-out pairs, the model card, the task-3 permutation test, every metric before and
after post-training with its chance level, and the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from biocl.evaluate.stats import bootstrap_ci, permutation_pvalue
from biocl.evaluate.zste import ZsteResult
from biocl.pipelines.audio_temporal.data import PreparedData
from biocl.pipelines.audio_temporal.evaluation import chance_levels
from biocl.pipelines.audio_temporal.quality import clip_quality
from biocl.protocols.base import Protocol

__all__ = ["run_details"]

_BAR_METRICS = ("zste_task1", "zste_task2", "zste_task3", "zste_task4", "zste_task5", "compa_text", "compa_audio",
                "compa_group")
_RETRIEVAL = tuple(f"retrieval_{d}_{k}" for d in ("a2t", "t2a") for k in ("r1", "r5", "r10", "map10"))


def run_details(protocol: Protocol, prep: PreparedData, before: ZsteResult, after: ZsteResult, *, model: nn.Module,
                model_path: Path, model_sha256: str, fit: Any, device: str, trainable: dict[str, list[str]],
                calibration: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The report material of ``results.json`` (docs/design.md).

    ``calibration`` holds the zero-shot classification entries
    (:func:`~biocl.pipelines.audio_temporal.quality.zero_shot_calibration`); the data quality
    is measured here on the clips as read.

    Raises
    ------
    AssertionError
        When a held-out class pair is also a post-training pair.
    """
    names = prep.class_names
    leaked = (set(prep.eval_pairs) | set(prep.val_pairs)) & set(prep.train_pairs)
    if leaked or set(prep.eval_pairs) & set(prep.val_pairs):
        raise AssertionError(f"held-out pairs {sorted(leaked)} were composed in post-training, or test and "
                             "validation pairs overlap")
    subgroups = [_per_class("zste_task1_after by class", after.per_item["task1"], prep.items.single_labels, names,
                            protocol.acceptance),
                 _per_class("zste_task3_after by class (pairs holding the class)", after.per_item["task3"],
                            np.concatenate([prep.items.pair_classes] * 2), names, protocol.acceptance)]
    pairs = ", ".join(f"{names[a]}+{names[b]}" for a, b in prep.eval_pairs)
    return {
        "flow": _flow(prep, protocol),
        "exclusions": [{"reason": e["reason"], "count": e["count"], "unit": e["unit"]} for e in prep.dataset.exclusions],
        "disjointness": {"asserted": True, "description": (
            f"{len(prep.eval_pairs)} held-out test class pairs ({pairs}) and {len(prep.val_pairs)} validation "
            f"pairs are never composed in post-training ({len(prep.train_pairs)} other pairs are), and test and "
            "validation pairs are disjoint; test, validation and training clips are disjoint (split per class before "
            "anything is composed). Epochs and settings were chosen on the validation items; the test items were "
            "scored once, after training")},
        "subgroups": subgroups,
        "worst_cases": _worst_pairs(after, prep, protocol.evaluate.n_worst_cases),
        "data_quality": clip_quality(prep.dataset.clips, names, prep.dataset.sample_rate_hz),
        "calibration": calibration or None,
        "model": {"name": type(model).__name__, "parameters": int(sum(p.numel() for p in model.parameters())),
                  "spec": {**model.spec(), "trainable_per_phase": trainable,
                           "loss": protocol.loss.model_dump(), "logit_scale": float(np.exp(model.log_scale_value()))}},
        "checkpoint": {"path": str(model_path), "sha256": model_sha256},
        "permutation_test": _permutation_test(after, protocol),
        "before_after": {m: {"before": before.metrics[m], "after": after.metrics[m]} for m in before.metrics},
        "chance": chance_levels(prep, protocol),
        "figures": _figures(before, after, prep, subgroups[0]),
        "device": device,
        "phases": [{k: r[k] for k in r if k in ("phase", "epoch", "train_loss") or k.startswith("val_")}
                   for r in fit.history],
        "validation": _validation_summary(fit, protocol),
    }


def _validation_summary(fit: Any, protocol: Protocol) -> dict[str, Any]:
    """Per phase: the monitored validation metric, the epoch it chose and its validation scores there."""
    out = {}
    for phase, metric in protocol.evaluate.monitor.items():
        rows = [r for r in fit.history if r["phase"] == phase and f"val_{metric}" in r]
        if not rows:
            continue
        best = max(rows, key=lambda r: r[f"val_{metric}"])  # the trainer keeps the first of equal bests
        out[phase] = {"monitor": f"val_{metric}", "chosen_epoch": int(best["epoch"]),
                      "stopped_early": bool(fit.stopped_early.get(phase, False)),
                      "scores": {k: float(v) for k, v in best.items() if k.startswith("val_")}}
    return out


def _flow(prep: PreparedData, protocol: Protocol) -> list[dict[str, Any]]:
    """Clips, classes, pairs and compositions, from what was listed to what was scored."""
    n_items = len(prep.items.pair_ids)
    n_pairs = len(prep.train_pairs) + len(prep.val_pairs) + len(prep.eval_pairs)
    count = [
        ("clips listed", prep.dataset.n_listed, "clip"), ("clips usable after exclusions", len(prep.dataset.clips), "clip"),
        ("classes", len(prep.class_names), "class"),
        ("pretraining clips", sum(len(v) for v in prep.train_clips.values()), "clip"),
        ("validation clips", sum(len(v) for v in prep.val_clips.values()), "clip"),
        ("test clips (task 1)", sum(len(v) for v in prep.test_clips.values()), "clip"),
        ("unordered class pairs", n_pairs, "pair"), ("post-training class pairs", len(prep.train_pairs), "pair"),
        ("validation class pairs", len(prep.val_pairs), "pair"),
        ("held-out test class pairs", len(prep.eval_pairs), "pair"),
        ("validation compositions (forward, reversed, overlay)", 3 * len(prep.val_items.pair_ids), "composition"),
        ("post-training compositions per epoch (forward, reversed, overlay)",
         3 * len(prep.train_pairs) * protocol.data.train_rounds_per_epoch, "composition"),
        ("test compositions (forward, reversed, overlay)", 3 * n_items, "composition"),
        ("task 3 items (forward and reversed joins)", 2 * n_items, "clip"),
    ]
    return [{"stage": stage, "count": int(n), "unit": unit} for stage, n, unit in count]


def _permutation_test(after: ZsteResult, protocol: Protocol) -> dict[str, Any]:
    """Task-3 accuracy after post-training against captions shuffled over the items."""
    predictions, truth = after.task3_predictions, after.task3_truth
    observed = float(np.mean(predictions == truth))
    p_value = permutation_pvalue(observed, lambda rng: float(np.mean(predictions == rng.permutation(truth))),
                                 n_permutations=protocol.evaluate.n_permutations, seed=protocol.seed)
    return {"metric": "zste_task3_after", "observed": observed, "p_value": p_value,
            "n_permutations": protocol.evaluate.n_permutations,
            "null": "caption labels of the task-3 items shuffled; predictions fixed"}


def _figures(before: ZsteResult, after: ZsteResult, prep: PreparedData, task1_by_class: dict[str, Any]
             ) -> list[dict[str, Any]]:
    captions = after.example_captions
    rows = ["forward clip", "reversed clip", "overlay clip"]
    by_class = task1_by_class["rows"]
    return [
        {"kind": "grouped_bar", "title": "ZSTE tasks and CompA-order scores before and after post-training "
                                         "(held-out class pairs)", "labels": list(_BAR_METRICS),
         "series": {"before": [before.metrics[m] for m in _BAR_METRICS],
                    "after": [after.metrics[m] for m in _BAR_METRICS]}, "ylabel": "accuracy"},
        {"kind": "grouped_bar", "title": "Retrieval of composed clips before and after post-training",
         "labels": list(_RETRIEVAL), "series": {"before": [before.metrics[m] for m in _RETRIEVAL],
                                                "after": [after.metrics[m] for m in _RETRIEVAL]}, "ylabel": "score"},
        {"kind": "heatmap", "title": f"Scaled similarity after post-training: {prep.items.pair_ids[0]}",
         "matrix": after.example_similarity.tolist(), "row_labels": rows, "col_labels": captions},
        {"kind": "heatmap", "title": f"Scaled similarity before post-training: {prep.items.pair_ids[0]}",
         "matrix": before.example_similarity.tolist(), "row_labels": rows, "col_labels": captions},
        {"kind": "bar", "title": "Zero-shot classification (task 1) after post-training, per class",
         "labels": [r["group"] for r in by_class], "values": [r["value"] for r in by_class],
         "ci": [r["ci95"] for r in by_class], "ylabel": "accuracy"},
    ]


def _per_class(name: str, values: np.ndarray, classes: np.ndarray, names: list[str], acceptance: Any) -> dict[str, Any]:
    rows = []
    for k, label in enumerate(names):
        mask = np.any(classes == k, axis=1) if classes.ndim == 2 else classes == k
        v = values[mask]
        if v.size == 0:
            continue
        low, high = bootstrap_ci(v, n_resamples=acceptance.ci_resamples, seed=acceptance.ci_seed)
        rows.append({"group": label, "value": float(v.mean()), "ci95": [low, high], "n": int(v.size)})
    return {"name": name, "prespecified": name.split(" ")[0] in acceptance.prespecified_subgroups or
            name in acceptance.prespecified_subgroups, "metric": name.split(" ")[0], "rows": rows}


#: What a worst case's value measures (the report's column title).
WORST_CASE_METRIC = "task-3 accuracy of the held-out class pair (order of its joins)"
_MAX_CLIPS_LISTED = 3


def _worst_pairs(result: ZsteResult, prep: PreparedData, n: int) -> list[dict[str, Any]]:
    """Held-out class pairs whose joins were most often misordered (task 3), with the clip files joined."""
    names, pairs = prep.class_names, prep.items.pair_classes
    keys = [tuple(sorted(p)) for p in pairs] * 2
    captions = ("A before B", "B before A", "A while B")
    rows = []
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        correct = result.per_item["task3"][idx]
        wrong = [captions[result.task3_predictions[i]] for i in idx if not correct[idx.index(i)]]
        detail = (f"{int(len(idx) - correct.sum())} of {len(idx)} joins misordered"
                  + (f"; most often chose '{max(set(wrong), key=wrong.count)}'" if wrong else ""))
        pair = f"{names[key[0]]}+{names[key[1]]}"
        rows.append({"id": pair, "value": float(correct.mean()), "metric": WORST_CASE_METRIC,
                     "higher_is_better": True, "pair": pair, "clips": _pair_clips(prep, idx), "detail": detail})
    return sorted(rows, key=lambda r: (r["value"], r["id"]))[:n]


def _pair_clips(prep: PreparedData, joins: list[int]) -> str | None:
    """The clip files (A + B) of a pair's test items, sorted, at most three listed."""
    n_items = len(prep.items.pair_ids)
    files = sorted({prep.item_clips[j % n_items] for j in joins}) if prep.item_clips else []
    listed = "; ".join(f"{a} + {b}" for a, b in files[:_MAX_CLIPS_LISTED])
    return (listed + (f" (+{len(files) - _MAX_CLIPS_LISTED} more)" if len(files) > _MAX_CLIPS_LISTED else "")
            ) or None
