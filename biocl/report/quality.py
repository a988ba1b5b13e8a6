"""Two report sections that read optional parts of ``results.json``: calibration and data quality.

Calibration (``results["calibration"]``) applies where a model's outputs are probabilities
(word-level top-k, zero-shot or few-shot classification)::

    "calibration": [{"name": "zero-shot classification", "confidence": [0.9, ...], "correct": [1, 0, ...]}]

or a string ``"not applicable: <why>"``. Each entry gets a reliability diagram (10 equal-width
bins of confidence), its expected calibration error (ECE, bin-size weighted gap between
confidence and accuracy) and Brier score (mean squared gap between confidence and outcome).

Data quality (``results["data_quality"]``) holds what a pipeline measured of its input
before training: ``{"figures": [figure specs], "tables": [{"caption", "columns", "rows"}],
"counts": {name: number}}`` (M/EEG: sensor layout, spectra before/after, clamped samples,
evoked response; DNA: length and GC distributions; audio: duration and level per class).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biocl.report.figures import draw_figure
from biocl.report.material import ReportSection, RunFiles
from biocl.utils.errors import BioclError

__all__ = ["calibration_summary", "calibration_section", "data_quality_section"]

_BINS = 10
_WANTED = {"brain_speech": "sensor layout with bad channels, power spectra before and after preprocessing, "
                           "clamped samples, evoked response to word onsets",
           "dna_species": "length and GC distributions of the input sequences",
           "dna_binning": "length and GC distributions of the input sequences",
           "audio_temporal": "clip duration and level per class"}


def calibration_summary(confidence: Any, correct: Any, n_bins: int = _BINS) -> dict[str, Any]:
    """Reliability bins, ECE and Brier score of probabilities against 0/1 outcomes.

    Parameters
    ----------
    confidence : array-like of float, in [0, 1]
        The probability the model gave its answer (or the positive class).
    correct : array-like of {0, 1}
        Whether that answer was right.
    n_bins : int
        Equal-width bins of confidence.

    Returns
    -------
    dict
        ``ece`` and ``brier`` (both in [0, 1], lower is better), ``n``, and per non-empty bin
        ``bin_confidence`` (mean confidence), ``bin_accuracy`` and ``bin_count``.
    """
    p = np.asarray(confidence, dtype=float).ravel()
    y = np.asarray(correct, dtype=float).ravel()
    if p.size == 0 or p.size != y.size or not np.all((p >= 0) & (p <= 1)) or not np.all((y == 0) | (y == 1)):
        raise BioclError("calibration needs as many confidences in [0, 1] as 0/1 outcomes")
    which = np.minimum((p * n_bins).astype(int), n_bins - 1)
    conf, acc, count = [], [], []
    for b in range(n_bins):
        mask = which == b
        if mask.any():
            conf.append(float(p[mask].mean()))
            acc.append(float(y[mask].mean()))
            count.append(int(mask.sum()))
    ece = float(sum(n * abs(a - c) for c, a, n in zip(conf, acc, count)) / p.size)
    return {"ece": ece, "brier": float(np.mean((p - y) ** 2)), "n": int(p.size), "bin_confidence": conf,
            "bin_accuracy": acc, "bin_count": count}


def calibration_section(run: RunFiles) -> ReportSection:
    """Reliability diagrams with ECE and Brier score, or a visible "not applicable: ..." line."""
    section = ReportSection("calibration", "Calibration")
    entries = run.take(section, "calibration", "calibration")
    if isinstance(entries, str):
        section.alert("info", entries if entries.lower().startswith("not applicable") else
                      f"not applicable: {entries}")
        return section
    if not entries:
        section.alert("info", "not applicable: the run stored no predicted probabilities (this pipeline ranks "
                              "or clusters; calibration applies to probability outputs such as zero-shot or "
                              "few-shot classification).")
        section.status = "not reported"
        return section
    rows = []
    for entry in entries:
        name = str(entry.get("name", "model"))
        try:
            summary = calibration_summary(entry.get("confidence", []), entry.get("correct", []))
        except BioclError as err:
            section.alert("warning", f"{name}: {err.message}")
            section.status = "partly reported"
            continue
        rows.append([name, f"{summary['ece']:.3f}", f"{summary['brier']:.3f}", summary["n"]])
        section.figures.append(draw_figure({
            "kind": "curve", "title": f"Reliability diagram: {name} (ECE {summary['ece']:.3f})",
            "x": summary["bin_confidence"],
            "series": {"observed accuracy": summary["bin_accuracy"], "perfect calibration": summary["bin_confidence"]},
            "xlabel": "mean predicted probability (proportion, 0-1)", "ylabel": "observed accuracy (proportion, 0-1)"}))
    if rows:
        section.table(["Output", "ECE", "Brier score", "n"], rows,
                      caption="Lower is better for both; ECE over 10 equal-width bins of confidence.")
    return section


def data_quality_section(run: RunFiles) -> ReportSection:
    """What the pipeline measured of its input: figures, tables and counts, as it reported them."""
    section = ReportSection("data_quality", "Data quality")
    quality = run.take(section, "data_quality", "data_quality")
    wanted = _WANTED.get(str(run.get("pipeline")), "")
    if not isinstance(quality, dict) or not quality:
        section.status = "not reported"
        section.text.append("The run reported no data-quality measures" + (f" ({wanted})." if wanted else "."))
        return section
    counts = quality.get("counts") or {}
    if counts:
        section.table(["Measure", "Value"], [[str(k).replace("_", " "), v] for k, v in counts.items()])
    for table in quality.get("tables") or []:
        section.table(list(table.get("columns", [])), list(table.get("rows", [])), caption=table.get("caption"))
    for spec in quality.get("figures") or []:
        try:
            section.figures.append(draw_figure(spec))
        except BioclError as err:
            section.alert("warning", f"a data-quality figure was not drawn: {err.message}")
            section.status = "partly reported"
    return section
