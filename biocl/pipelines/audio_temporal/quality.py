"""Report material of an audio run beside the scores: the clips' data quality and zero-shot calibration.

Data quality (``results["data_quality"]``) is measured on the clips as read, before they
are fitted to ``clip_s`` and before training: duration (s) and level (RMS in dB relative
to full scale, a full-scale square wave being 0 dBFS) per class. Calibration
(``results["calibration"]``) is that of zero-shot classification (ZSTE task 1): the softmax
over the class prompts of the model's scaled similarities (``exp(log_scale) * cos``), from
the embeddings the scoring already computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biocl.evaluate.zste import ZsteSet, scaled_cosine

__all__ = ["rms_dbfs", "clip_quality", "zero_shot_calibration"]

_FLOOR_DBFS = -120.0


def rms_dbfs(waveform: np.ndarray) -> float:
    """Level of a clip: ``20 log10(RMS)`` with full scale 1.0, floored at -120 dBFS (silence)."""
    samples = np.asarray(waveform, dtype=np.float64)
    rms = float(np.sqrt(np.mean(samples ** 2))) if samples.size else 0.0
    return max(20.0 * np.log10(rms), _FLOOR_DBFS) if rms > 0 else _FLOOR_DBFS


def _stats(values: list[float]) -> tuple[float, float, float]:
    return float(np.min(values)), float(np.mean(values)), float(np.max(values))


def clip_quality(clips: list[Any], class_names: list[str], sample_rate_hz: int) -> dict[str, Any]:
    """Duration and level per class of the clips as read (``results["data_quality"]``).

    Parameters
    ----------
    clips : list of AudioClip
        Loaded clips (``label``, ``waveform`` at ``sample_rate_hz``); clips of other
        classes are left out.
    class_names : list of str
        The run's classes, in order.
    sample_rate_hz : int
        The rate the waveforms are at, Hz.

    Returns
    -------
    dict
        ``figures`` (min/mean/max duration and level per class), ``tables`` (the same per
        class, with the clip count) and ``counts``.
    """
    durations: dict[str, list[float]] = {name: [] for name in class_names}
    levels: dict[str, list[float]] = {name: [] for name in class_names}
    for clip in clips:
        if clip.label in durations and clip.waveform is not None:
            durations[clip.label].append(len(clip.waveform) / sample_rate_hz)
            levels[clip.label].append(rms_dbfs(clip.waveform))
    names = [name for name in class_names if durations[name]]
    rows = [[name, len(durations[name]), *(round(v, 3) for v in _stats(durations[name])),
             *(round(v, 1) for v in _stats(levels[name]))] for name in names]
    figures = []
    for title, values, unit in (("Clip duration per class, as read (before fitting to length)", durations,
                                 "duration (s)"),
                                ("Clip level per class, as read (RMS re full scale 1.0)", levels, "level (dBFS)")):
        spread = {name: _stats(values[name]) for name in names}
        figures.append({"kind": "grouped_bar", "title": title, "labels": names,
                        "series": {which: [round(spread[n][i], 4) for n in names]
                                   for i, which in enumerate(("min", "mean", "max"))}, "ylabel": unit})
    every_duration = [v for name in names for v in durations[name]]
    counts = {"clips": len(every_duration), "classes": len(names),
              "total_duration_s": round(float(np.sum(every_duration)), 2) if every_duration else 0.0,
              "clips_below_-60_dBFS": int(sum(v < -60.0 for name in names for v in levels[name]))}
    table = {"caption": "Per class: clips, duration (s) and level (dBFS) as read (minimum, mean, maximum).",
             "columns": ["Class", "Clips", "Duration min", "Duration mean", "Duration max", "Level min",
                         "Level mean", "Level max"], "rows": rows}
    return {"figures": figures, "tables": [table], "counts": counts}


def zero_shot_calibration(singles: np.ndarray, prompts: np.ndarray, log_scale: float, items: ZsteSet,
                          name: str = "zero-shot classification (task 1)") -> dict[str, Any]:
    """A ``results["calibration"]`` entry from the task-1 embeddings the scoring computed.

    Parameters
    ----------
    singles : array (n_single, d)
        Embeddings of ``items.singles``.
    prompts : array (n_classes, d)
        Embeddings of the class prompts (``"this is a sound of <class>"``).
    log_scale : float
        The model's log logit scale.
    items : ZsteSet
        The scored items (``single_labels``).
    name : str
        The entry's name in the report.

    Returns
    -------
    dict
        ``name``, ``confidence`` (softmax probability of the top class, in [0, 1]),
        ``correct`` (0/1: the top class is the clip's) and ``logit_scale``.
    """
    logits = scaled_cosine(singles, prompts, log_scale)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    top = probs.argmax(axis=1)
    return {"name": name, "confidence": np.clip(probs[np.arange(top.size), top], 0.0, 1.0).round(6).tolist(),
            "correct": (top == np.asarray(items.single_labels)).astype(int).tolist(),
            "logit_scale": float(np.exp(log_scale))}
