"""Curated metric tables: the metrics a reader of each pipeline asks for, model and baselines side by side.

``results.json`` holds every metric a pipeline computed (36 for DNA). The report's table
shows the ones that answer the protocol's question, in the reader's words (see
:mod:`biocl.report.labels`), with their unit, one number of decimals per unit (proportions
3, ranks 1, counts 0), the model and every baseline in columns, and a 95 % CI beside a value
wherever the run stored one. The rest is in appendix B (every key of ``results.json``).

Intervals are read from the primary endpoint (the model's primary metric) and, where a
pipeline writes them, from ``results["metric_intervals"][column][metric] = [low, high]``
(``column`` is ``"model"`` or a baseline's name).
"""

from __future__ import annotations

import re
from typing import Any

from biocl.report.labels import format_number, metric_decimals, metric_label, metric_unit
from biocl.report.material import RunFiles

__all__ = ["CURATED_ROWS", "curated_metric_table", "before_after_table"]

#: Per pipeline, the metrics of its table in reading order (patterns match whole keys).
CURATED_ROWS: dict[str, tuple[str, ...]] = {
    "brain_speech": (r"top10(_accuracy)?", r"top1(_accuracy)?", r"top5(_accuracy)?", r"word_top\d+(_accuracy)?",
                     r"median_rank", r"mrr", r"n_candidates"),
    "dna_species": (r"ari", r"few_shot_f1_k\d+", r"few_shot_accuracy", r"(graph_)?mean_f1",
                    r"graph_n_f1_above_0_[59]", r"kmedoid_n_f1_above_0_[59]", r"(graph_)?mean_(purity|completeness)",
                    r"binning_f1", r"binning_threshold"),
    "dna_binning": (r"ari", r"mean_f1", r"n_f1_above_0_[59]", r"mean_(purity|completeness)"),
    "audio_temporal": (r"zste_task\d", r"compa_(text|audio|group)", r"retrieval_(a2t|t2a)_(r\d+|map\d+)",
                       r"zste_accuracy", r"order_accuracy", r"count_accuracy"),
}
# Never a row of the curated table: bookkeeping, chance levels (a column), derived differences.
_NOT_A_ROW = re.compile(r"^(chance_|n_test|logit_scale)|_change$|_se$")
_PHASES = re.compile(r"_(before|after)$")


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _columns(run: RunFiles) -> dict[str, dict[str, Any]]:
    """``{column name: {metric: value}}``: the model, then each baseline as the run names it."""
    metrics = run.get("metrics") or {}
    baselines = run.get("baselines") or {}
    columns = {"model": metrics if isinstance(metrics, dict) else {}}
    for name, values in (baselines.items() if isinstance(baselines, dict) else []):
        if isinstance(values, dict):
            columns[str(name)] = values
    return columns


def _value(values: dict[str, Any], key: str, after: bool) -> float | None:
    """A column's value of ``key``: the post-training value (``key_after``) when the run has phases."""
    for candidate in ((f"{key}_after", key) if after else (key,)):
        number = _number(values.get(candidate))
        if number is not None:
            return number
    return None


def _row_keys(run: RunFiles, columns: dict[str, dict[str, Any]], phased: bool) -> list[str]:
    present = list(dict.fromkeys(_PHASES.sub("", k) if phased else k for values in columns.values() for k in values
                                 if _number(values.get(k)) is not None))
    primary = _PHASES.sub("", str(run.endpoint["metric"])) if phased else str(run.endpoint["metric"])
    patterns = CURATED_ROWS.get(str(run.get("pipeline", default="")))
    if patterns:
        chosen = [key for pattern in patterns for key in present if re.fullmatch(pattern, key)]
    else:  # an unknown pipeline: what the model and a baseline both report
        chosen = [key for key in present if sum(key in values for values in columns.values()) > 1]
    chosen = [key for key in dict.fromkeys([primary, *chosen]) if not _NOT_A_ROW.search(key)]
    return [key for key in chosen if key in present]


def _interval(run: RunFiles, column: str, key: str, phased: bool) -> list[float] | None:
    endpoint = run.endpoint
    if column == "model" and key in (endpoint["metric"], _PHASES.sub("", str(endpoint["metric"]))):
        if endpoint.get("n_units"):
            return list(endpoint["ci95"])
    stored = (run.get("metric_intervals") or {}).get(column) or {}
    for candidate in ((f"{key}_after", key) if phased else (key,)):
        ci = stored.get(candidate) if isinstance(stored, dict) else None
        if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(_number(v) is not None for v in ci):
            return [float(ci[0]), float(ci[1])]
    return None


def _cell(value: float | None, ci: list[float] | None, decimals: int) -> dict[str, str]:
    if value is None:
        return {"text": "not reported", "kind": "missing"}
    text = format_number(value, decimals)
    if ci is not None:
        text += f" [{format_number(ci[0], decimals)} to {format_number(ci[1], decimals)}]"
    return {"text": text, "kind": "num"}


def curated_metric_table(run: RunFiles) -> dict[str, Any] | None:
    """The pipeline's metric table (``None`` when the run reported no metric).

    Returns
    -------
    dict | None
        A table of :meth:`biocl.report.material.ReportSection.table`'s shape: columns
        ``Metric``, ``Unit``, ``model`` (after post-training when the run has before/after
        values) and one per baseline; a baseline that does not report a metric says so.
    """
    columns = _columns(run)
    phased = any(_PHASES.search(k) for k in columns["model"])
    keys = _row_keys(run, columns, phased)
    if not keys:
        return None
    rows = []
    for key in keys:
        values = {name: _value(column, key, phased) for name, column in columns.items()}
        decimals = metric_decimals(key, [v for v in values.values() if v is not None])
        cells = [_cell(values[name], _interval(run, name, key, phased), decimals) for name in columns]
        rows.append([{"text": metric_label(key), "kind": "text"}, {"text": metric_unit(key), "kind": "unit"},
                     *cells])
    model = "model (after post-training)" if phased else "model"
    names = [model, *(name for name in columns if name != "model")]
    return {"caption": "Model and baselines on the same test data; 95 % CI in brackets where the run "
                       "stored one. Every reported value is in appendix B.",
            "columns": ["Metric", "Unit", *names], "rows": rows}


def before_after_table(run: RunFiles) -> dict[str, Any] | None:
    """Before and after post-training, one row per curated metric, with the change."""
    pairs = run.get("before_after")
    metrics = run.get("metrics") or {}
    if not isinstance(pairs, dict) or not pairs:
        keys = sorted({_PHASES.sub("", k) for k in metrics if _PHASES.search(k)})
        pairs = {k: {"before": metrics.get(f"{k}_before"), "after": metrics.get(f"{k}_after")} for k in keys}
    if not pairs:
        return None
    patterns = CURATED_ROWS.get(str(run.get("pipeline", default="")), ())
    keys = [k for pattern in patterns for k in pairs if re.fullmatch(pattern, k)] or list(pairs)
    rows = []
    for key in dict.fromkeys(keys):
        before, after = (_number((pairs.get(key) or {}).get(side)) for side in ("before", "after"))
        decimals = metric_decimals(key, [v for v in (before, after) if v is not None])
        change = None if before is None or after is None else after - before
        rows.append([{"text": metric_label(key), "kind": "text"}, {"text": metric_unit(key), "kind": "unit"},
                     _cell(before, None, decimals), _cell(after, None, decimals),
                     {"text": "not reported" if change is None else f"{change:+.{decimals}f}",
                      "kind": "missing" if change is None else "num"}])
    return {"caption": "Before and after post-training, same held-out data.",
            "columns": ["Metric", "Unit", "Before", "After", "Change"], "rows": rows}
