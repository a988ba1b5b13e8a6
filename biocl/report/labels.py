"""How a metric reads in a report: words a person uses, its unit, and how many decimals.

``results.json`` names metrics by key (``top10_accuracy``, ``zste_task1_after``). A table
row, a figure axis and a worst-case header show :func:`metric_label` instead ("top-10
accuracy", "ZSTE task 1"), and every value of one metric is written with the same number
of decimals (:func:`metric_decimals`), so 0.007 never stands beside 0.222 unaligned.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["metric_label", "metric_unit", "metric_decimals", "format_number", "axis_label", "words"]

# Exact keys first; the patterns below cover families (top-k, recall@k, zste_taskN...).
_LABELS = {
    "top1_accuracy": "top-1 accuracy", "top10_accuracy": "top-10 accuracy", "top5_accuracy": "top-5 accuracy",
    "median_rank": "median rank of the true segment", "mean_rank": "mean rank of the true segment",
    "mrr": "mean reciprocal rank", "ari": "adjusted Rand index (ARI)", "nmi": "normalised mutual information",
    "few_shot_accuracy": "few-shot species accuracy", "zero_shot_accuracy": "zero-shot accuracy",
    "binning_f1": "binning F1", "mean_f1": "mean F1 over genomes", "f1": "F1", "auroc": "area under the ROC curve",
    "n_candidates": "candidates per window", "n_windows": "test windows", "n_bins": "bins",
    "n_f1_above_0_5": "genomes with F1 > 0.5", "n_f1_above_0_9": "genomes with F1 > 0.9",
    "zste_accuracy": "ZSTE accuracy", "compa_text": "CompA-order (text)", "compa_audio": "CompA-order (audio)",
    "compa_group": "CompA-order (group)", "retrieval_t2a_map10": "text-to-audio mAP@10",
    "mean_purity": "mean purity (bp)", "mean_completeness": "mean completeness (bp)",
    "threshold": "cosine threshold", "binning_threshold": "cosine threshold of the bins", "silhouette": "silhouette", "brier": "Brier score",
    "ece": "expected calibration error", "loss": "loss", "train_loss": "training loss", "val_loss": "validation loss",
    "lr": "learning rate", "wall_time_s": "wall time",
}
_PATTERNS = (
    (re.compile(r"^top(\d+)_accuracy$"), lambda m: f"top-{m[1]} accuracy"),
    (re.compile(r"^few_shot_f1_k(\d+)$"), lambda m: f"few-shot F1, {m[1]} shot{'s' if m[1] != '1' else ''}"),
    (re.compile(r"^(graph|kmedoid)_(.+)$"),
     lambda m: f"{metric_label(m[2])} ({'kNN-graph' if m[1] == 'graph' else 'K-medoid'} bins)"),
    (re.compile(r"^n_f1_above_0_(\d)$"), lambda m: f"genomes with F1 > 0.{m[1]}"),
    (re.compile(r"^zste_task(\d+)$"), lambda m: f"ZSTE task {m[1]}"),
    (re.compile(r"^retrieval_(a2t|t2a)_r(\d+)$"),
     lambda m: f"{'audio-to-text' if m[1] == 'a2t' else 'text-to-audio'} recall@{m[2]}"),
    (re.compile(r"^retrieval_(a2t|t2a)_map(\d+)$"),
     lambda m: f"{'audio-to-text' if m[1] == 'a2t' else 'text-to-audio'} mAP@{m[2]}"),
    (re.compile(r"^recall_at_(\d+)$"), lambda m: f"recall@{m[1]}"),
    (re.compile(r"^(.*)_change$"), lambda m: f"change in {metric_label(m[1])} (after - before)"),
    (re.compile(r"^(.*)_(before|after)$"), lambda m: f"{metric_label(m[1])} ({m[2]})"),
    (re.compile(r"^val_(.*)$"), lambda m: f"validation {metric_label(m[1])}"),
    (re.compile(r"^train_(.*)$"), lambda m: f"training {metric_label(m[1])}"),
)
# Units of metrics that are not proportions; proportions get "proportion, 0-1".
_UNITS = {"ari": "index, at most 1", "binning_threshold": "cosine", "median_rank": "rank", "mean_rank": "rank", "wall_time_s": "s", "threshold": "cosine",
          "lr": "per step", "loss": "nats", "train_loss": "nats", "val_loss": "nats"}
_COUNT = re.compile(r"^n_|_n_|_count$")
_PROPORTION = re.compile(r"accuracy|_f1|^f1|^ari$|^nmi$|recall|precision|purity|completeness|compa_|zste_|mrr|"
                         r"map\d*|auroc|silhouette|^ece$|^brier$|^retrieval_")


def words(key: str) -> str:
    """A key in plain words: ``n_unbinned`` -> ``n unbinned``."""
    return str(key).replace("_", " ").strip()


def metric_label(key: str) -> str:
    """The metric in a person's words (``top10_accuracy`` -> ``top-10 accuracy``)."""
    key = str(key)
    if key in _LABELS:
        return _LABELS[key]
    for pattern, label in _PATTERNS:
        match = pattern.match(key)
        if match:
            return label(match)
    if key.startswith("n_"):
        return "number of " + words(key[2:])
    return words(key)


def metric_unit(key: str) -> str:
    """The unit a metric's values are in (``proportion, 0-1``, ``rank``, ``count``...)."""
    key = str(key)
    base = re.sub(r"^(graph|kmedoid)_", "", re.sub(r"_(before|after)$", "", key))
    if base in _UNITS:
        return _UNITS[base]
    if _COUNT.search(base):
        return "count"
    if _PROPORTION.search(base):
        return "proportion, 0-1"
    if base.endswith("_s"):
        return "s"
    if base.endswith("_bp"):
        return "bp"
    return "value"


def axis_label(key: str, given: str | None = None) -> str:
    """An axis title with its unit: ``top-10 accuracy (proportion, 0-1)``; ``given`` wins when it has a unit."""
    if given and ("(" in given or " " in given.strip()):
        return given
    name = given or key
    unit = metric_unit(name)
    label = metric_label(name)
    return label if unit == "value" else f"{label} ({unit})"


def metric_decimals(key: str, values: list[Any] | None = None) -> int:
    """Decimals for every value of one metric: 0 for counts and ranks, else enough to tell them apart."""
    unit = metric_unit(key)
    numbers = [float(v) for v in values or [] if isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(float(v))]
    if unit in ("count", "bp") or (numbers and all(float(n).is_integer() for n in numbers) and unit != "proportion, 0-1"):
        return 0
    if unit in ("rank", "s"):
        return 1
    # Proportions and scores: always 3, so a column of them lines up (0.007 beside 0.222).
    return 3


def format_number(value: Any, decimals: int) -> str:
    """``value`` with exactly ``decimals`` decimals; ``not reported`` for a missing one."""
    if value is None:
        return "not reported"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(float(value)):
        return str(value)
    # Thousands apart by a narrow no-break space: 12 345 reads at a glance and never breaks.
    return f"{float(value):,.{decimals}f}".replace(",", "\u202f")
