"""The report material of a brain-to-speech run (``results.json``; see docs/design.md).

Flow, exclusions, the sentence splits' disjointness (checked), per-subject subgroups (and
held-out subjects), the worst sentences, the input's data quality
(:mod:`~biocl.pipelines.brain_speech.quality`), the word-level calibration, the model card,
the checkpoint, the permutation test and the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from biocl.pipelines.brain_speech import evaluation
from biocl.pipelines.brain_speech.data import BrainSpeechData
from biocl.protocols.base import Protocol
from biocl.utils.io import sha256_file

__all__ = ["run_details"]


def run_details(protocol: Protocol, bundle: BrainSpeechData, net: nn.Module, result: dict[str, Any],
                per_subject: list[dict[str, Any]], correct: np.ndarray, checkpoint: Path | None, fit: Any,
                device: torch.device) -> dict[str, Any]:
    """The report material of ``results.json`` from the test scores of :func:`~biocl.pipelines.brain_speech.pipeline.evaluate`.

    Raises
    ------
    AssertionError
        When a sentence has windows in two splits.
    """
    n_by_split = _check_sentence_splits(bundle)
    encoder = net.encoder
    subgroups = [{"name": "subject", "prespecified": "subject" in protocol.acceptance.prespecified_subgroups,
                  "metric": "top10", "rows": per_subject}]
    if "heldout" in result:
        held = result["heldout"]
        subgroups.append({"name": "held-out subject (shared subject layer)", "prespecified": True, "metric": "top10",
                          "rows": evaluation.subject_table(held["subjects"], held["ranks"] < 10,
                                                           protocol.acceptance.ci_seed,
                                                           protocol.acceptance.ci_resamples)})
    return {
        "flow": _flow(bundle, result),
        "exclusions": [{"reason": reason, "count": int(count), "unit": "window" if "window" in reason else "item"}
                       for reason, count in sorted(bundle.exclusions.items())],
        "disjointness": {"asserted": True, "description": (
            f"Consecutive sentences of a sound file are merged into blocks of at least "
            f"{bundle.config.min_block_s:g} s ({bundle.counts.get('sentence blocks', 0)} blocks), and blocks are "
            f"assigned to train/valid/test ({n_by_split['train']}/{n_by_split['valid']}/"
            f"{n_by_split['test']} sentences) by a hash, identically for every subject; no "
            "sentence has windows in two splits (checked), training windows that overlap a word of a "
            "validation or test sentence in the recording (brain response included) are dropped, and so are "
            "validation and test windows whose span (speech and brain window, lag included) reaches a "
            "sentence of another split.")},
        "subgroups": subgroups,
        "worst_cases": evaluation.worst_sentences(bundle, result["rows"], correct, protocol.evaluate.worst_cases),
        "data_quality": bundle.quality or None,
        "calibration": result["calibration"],
        "model": {"name": "simple_conv", "parameters": int(sum(p.numel() for p in net.parameters())),
                  "spec": {**protocol.model.model_dump(mode="json"), "output_dim": encoder.output_dim,
                           "n_subjects": encoder.n_subjects,
                           "shared_parameters": encoder.shared_parameter_count(),
                           "per_subject_parameters": encoder.per_subject_parameter_count(),
                           "loss": protocol.loss.model_dump(mode="json"),
                           "epochs_run": len(fit.history), "stopped_early": fit.stopped_early}},
        "checkpoint": {"path": str(checkpoint) if checkpoint else None,
                       "sha256": sha256_file(checkpoint) if checkpoint and Path(checkpoint).exists() else None},
        "permutation_test": result["permutation_test"],
        "scoring": result["scoring"],
        "figures": _figures(protocol, result, per_subject),
        "device": device.type,
    }


def _flow(bundle: BrainSpeechData, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Subjects, recordings, events and sentences read, and the windows and candidates of each split."""
    return [{"stage": name, "count": int(count), "unit": unit} for name, count, unit in (
        ("subjects", bundle.counts["subjects"], "subject"),
        ("recordings read", bundle.counts["recordings"], "recording"),
        ("word events", bundle.counts["word events"], "event"),
        ("sentences", bundle.counts["sentences"], "sentence"),
        ("sentence blocks (>= {:g} s)".format(bundle.config.min_block_s), bundle.counts.get("sentence blocks", 0),
         "block"),
        ("training windows (training subjects)", bundle.rows("train").size, "window"),
        ("validation windows dropped (reach audio of another split)",
         bundle.exclusions.get("valid windows reaching audio of another split", 0), "window"),
        ("validation windows", bundle.rows("valid").size, "window"),
        ("test windows dropped (reach audio of another split)",
         bundle.exclusions.get("test windows reaching audio of another split", 0), "window"),
        ("test windows (training subjects)", result["rows"].size, "window"),
        ("test windows (held-out subjects)", bundle.rows("test", heldout=True).size, "window"),
        ("test candidates (distinct segments)", result["n_candidates"], "segment"))]


def _check_sentence_splits(bundle: BrainSpeechData) -> dict[str, int]:
    """Sentences per split, after checking that no sentence has windows in two splits."""
    split_of = {}
    for split in ("train", "valid", "test"):
        for sentence in set(bundle.tables[split].sentence.tolist()):
            if split_of.setdefault(sentence, split) != split:
                raise AssertionError(f"sentence {sentence} is in both {split_of[sentence]} and {split}")
    return {s: sum(v == s for v in bundle.splits.values()) for s in ("train", "valid", "test")}


def _figures(protocol: Protocol, result: dict[str, Any], per_subject: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"kind": "histogram", "title": "Rank of the heard segment among the test candidates (deep model)",
         "values": result["ranks"].tolist(), "bins": 30, "xlabel": "rank (0 = first)"},
        {"kind": "curve", "title": "Top-k segment accuracy", "x": list(range(1, protocol.evaluate.curve_max_k + 1)),
         "series": result["curves"], "xlabel": "k", "ylabel": "accuracy"},
        {"kind": "bar", "title": "Top-10 segment accuracy per subject (95% CI over windows)",
         "labels": [r["group"] for r in per_subject], "values": [r["value"] for r in per_subject],
         "ci": [r["ci95"] for r in per_subject], "ylabel": "top-10 accuracy"},
        {"kind": "grouped_bar", "title": "Deep model and baselines",
         "labels": ["top1", "top10"], "series": {name: [m.get("top1", 0.0), m.get("top10", 0.0)] for name, m in
                                                 {"deep model": result["metrics"], **result["baselines"]}.items()},
         "ylabel": "accuracy"}]
