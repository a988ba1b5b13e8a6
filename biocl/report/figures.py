"""Figures of a report: the plain-data figure specs of ``results.json`` drawn as embedded PNGs.

A pipeline never draws; it describes a figure as data (``docs/design.md``: ``bar``,
``grouped_bar``, ``histogram``, ``curve``, ``heatmap``, ``scatter``) and this module draws it
with matplotlib's Agg canvas (no pyplot, so no global figure state) into a base64 PNG that
the HTML report embeds inline. Training curves are drawn from ``metrics.jsonl`` records.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from biocl.utils.errors import BioclError

__all__ = ["FIGURE_KINDS", "draw_figure", "estimate_figure", "training_curves", "training_curve_figures"]

# Keys of metrics.jsonl records that place a record in time rather than measure the model.
_POSITION_KEYS = ("step", "global_step", "epoch")
_BOOKKEEPING_KEYS = frozenset({"step", "global_step", "epoch", "phase", "time", "time_s", "elapsed_s",
                               "wall_time_s", "timestamp", "rank"})
_MAX_LEGEND_ENTRIES = 20
_MAX_TICK_LABELS = 40
_MAX_ANNOTATED_CELLS = 144


def _figure(width_in: float = 6.4, height_in: float = 3.6):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def _to_png_base64(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # No "Software" tag: matplotlib's default names its web site, and a report carries no URL.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _numbers(spec: dict[str, Any], key: str) -> np.ndarray:
    try:
        values = np.asarray(spec[key], dtype=float)
    except KeyError:
        raise BioclError(f"figure {spec.get('title', '')!r} ({spec.get('kind')}) has no {key!r}") from None
    except (TypeError, ValueError):
        raise BioclError(f"figure {spec.get('title', '')!r}: {key!r} is not a list of numbers") from None
    return values


def _texts(values: Sequence[Any]) -> list[str]:
    return [str(v) for v in values]


def _same_length(spec: dict[str, Any], **arrays: Sequence[Any]) -> None:
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{n} has {k}" for n, k in lengths.items())
        raise BioclError(f"figure {spec.get('title', '')!r}: lengths differ ({described})")


def _category_ticks(ax, labels: list[str], axis: str = "x") -> None:
    positions = np.arange(len(labels))
    if len(labels) > _MAX_TICK_LABELS:
        return
    rotate = max((len(label) for label in labels), default=0) * len(labels) > 60
    if axis == "x":
        ax.set_xticks(positions, labels, rotation=45 if rotate else 0, ha="right" if rotate else "center")
    else:
        ax.set_yticks(positions, labels)


def _draw_bar(ax, spec: dict[str, Any]) -> None:
    labels = _texts(spec.get("labels", []))
    values = _numbers(spec, "values")
    _same_length(spec, labels=labels, values=values)
    positions = np.arange(len(values))
    errors = None
    if spec.get("ci") is not None:
        ci = np.asarray(spec["ci"], dtype=float).reshape(-1, 2)
        _same_length(spec, values=values, ci=ci)
        # Error bars are distances from the value; a CI that excludes its value draws none below/above.
        errors = np.clip(np.vstack([values - ci[:, 0], ci[:, 1] - values]), 0, None)
    ax.bar(positions, values, yerr=errors, capsize=3 if errors is not None else 0, color="#4c72b0")
    _category_ticks(ax, labels)
    ax.set_ylabel(str(spec.get("ylabel", "")))


def _draw_grouped_bar(ax, spec: dict[str, Any]) -> None:
    labels = _texts(spec.get("labels", []))
    series = spec.get("series") or {}
    if not series:
        raise BioclError(f"figure {spec.get('title', '')!r} (grouped_bar) has no series")
    width = 0.8 / len(series)
    positions = np.arange(len(labels))
    for index, (name, values) in enumerate(series.items()):
        values = np.asarray(values, dtype=float)
        _same_length(spec, labels=labels, **{str(name): values})
        ax.bar(positions - 0.4 + width * (index + 0.5), values, width, label=str(name))
    _category_ticks(ax, labels)
    ax.set_ylabel(str(spec.get("ylabel", "")))
    ax.legend(fontsize="small")


def _draw_histogram(ax, spec: dict[str, Any]) -> None:
    values = _numbers(spec, "values")
    values = values[np.isfinite(values)]
    ax.hist(values, bins=int(spec.get("bins", 20)) if values.size else 1, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(str(spec.get("xlabel", "")))
    ax.set_ylabel("count")


def _draw_curve(ax, spec: dict[str, Any]) -> None:
    x = _numbers(spec, "x")
    series = spec.get("series") or {}
    if not series:
        raise BioclError(f"figure {spec.get('title', '')!r} (curve) has no series")
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        _same_length(spec, x=x, **{str(name): values})
        ax.plot(x, values, marker="o" if x.size <= 30 else None, markersize=3, label=str(name))
    ax.set_xlabel(str(spec.get("xlabel", "")))
    ax.set_ylabel(str(spec.get("ylabel", "")))
    if len(series) > 1:
        ax.legend(fontsize="small")


def _draw_heatmap(ax, spec: dict[str, Any]) -> None:
    matrix = _numbers(spec, "matrix")
    if matrix.ndim != 2:
        raise BioclError(f"figure {spec.get('title', '')!r} (heatmap): matrix is not two-dimensional")
    rows = _texts(spec.get("row_labels") or [])
    cols = _texts(spec.get("col_labels") or [])
    image = ax.imshow(matrix, aspect="auto", cmap="viridis")
    ax.figure.colorbar(image, ax=ax)
    if len(rows) == matrix.shape[0]:
        _category_ticks(ax, rows, axis="y")
    if len(cols) == matrix.shape[1]:
        _category_ticks(ax, cols, axis="x")
    if matrix.size <= _MAX_ANNOTATED_CELLS:
        middle = np.nanmean(matrix) if np.isfinite(matrix).any() else 0.0
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7,
                    color="black" if value > middle else "white")


def _draw_scatter(ax, spec: dict[str, Any]) -> None:
    x = _numbers(spec, "x")
    y = _numbers(spec, "y")
    _same_length(spec, x=x, y=y)
    labels = _texts(spec.get("labels") or [])
    if len(labels) != x.size:
        ax.scatter(x, y, s=8)
        return
    groups = sorted(set(labels))
    colours = _palette(len(groups))
    for group, colour in zip(groups, colours):
        mask = np.array([label == group for label in labels])
        ax.scatter(x[mask], y[mask], s=8, color=colour, label=group if len(groups) <= _MAX_LEGEND_ENTRIES else None)
    if len(groups) <= _MAX_LEGEND_ENTRIES:
        ax.legend(fontsize="x-small", markerscale=2, loc="best")
    ax.set_xlabel(str(spec.get("xlabel", "")))
    ax.set_ylabel(str(spec.get("ylabel", "")))


def _palette(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


_DRAWERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "bar": _draw_bar,
    "grouped_bar": _draw_grouped_bar,
    "histogram": _draw_histogram,
    "curve": _draw_curve,
    "heatmap": _draw_heatmap,
    "scatter": _draw_scatter,
}
FIGURE_KINDS = tuple(_DRAWERS)


def draw_figure(spec: dict[str, Any]) -> dict[str, str]:
    """Draw one figure spec of ``results.json`` into an embeddable PNG.

    Parameters
    ----------
    spec : dict
        A figure spec of ``docs/design.md``; ``kind`` is one of :data:`FIGURE_KINDS`.

    Returns
    -------
    dict
        ``{"title": str, "kind": str, "png_base64": str}``; the PNG is 640 x 360 pixels.

    Raises
    ------
    BioclError
        When the spec names an unknown kind or its arrays are missing or of unequal length.
    """
    import matplotlib

    if not isinstance(spec, dict):
        raise BioclError(f"a figure spec must be a mapping, not {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in _DRAWERS:
        raise BioclError(f"figure {spec.get('title', '')!r}: unknown kind {kind!r}",
                         hint=f"use one of {', '.join(FIGURE_KINDS)}")
    # Labels are user text (species, file names): a "$" must not be read as mathematics.
    with matplotlib.rc_context({"text.parse_math": False}):
        fig = _figure(7.2 if kind == "heatmap" else 6.4, 4.2 if kind in ("heatmap", "scatter") else 3.6)
        ax = fig.add_subplot()
        _DRAWERS[kind](ax, spec)
        ax.set_title(str(spec.get("title", "")), fontsize="medium")
        png = _to_png_base64(fig)
    return {"title": str(spec.get("title", "")), "kind": str(kind), "png_base64": png}


def estimate_figure(metric: str, value: float, ci95: Sequence[float], *, threshold: float | None,
                    chance: float | None, baselines: dict[str, float] | None = None) -> dict[str, str]:
    """The primary estimate with its CI against the threshold, chance and baselines.

    Parameters
    ----------
    metric : str
        The primary metric's name.
    value : float
        Its value on the test set.
    ci95 : (low, high)
        Its 95 % bootstrap confidence interval.
    threshold, chance : float | None
        The acceptance threshold and chance level, drawn as vertical lines when given.
    baselines : dict | None
        ``{baseline name: value of the same metric}``, drawn as points.

    Returns
    -------
    dict
        As :func:`draw_figure`.
    """
    import matplotlib

    with matplotlib.rc_context({"text.parse_math": False}):
        names = ["model"] + list(baselines or {})
        fig = _figure(6.4, 0.9 + 0.45 * len(names))
        ax = fig.add_subplot()
        low, high = float(ci95[0]), float(ci95[1])
        ax.errorbar([value], [0], xerr=[[max(value - low, 0.0)], [max(high - value, 0.0)]], fmt="o",
                    color="#1f3d7a", capsize=4, label="model (95 % CI)")
        for row, name in enumerate(names[1:], start=1):
            ax.plot([baselines[name]], [row], "s", color="#888888")
        if threshold is not None:
            ax.axvline(threshold, color="#c0392b", linestyle="--", label=f"threshold {threshold:g}")
        if chance is not None:
            ax.axvline(chance, color="#7f8c8d", linestyle=":", label=f"chance {chance:g}")
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlabel(metric)
        ax.legend(fontsize="x-small", loc="best")
        ax.set_title(f"Primary endpoint: {metric}", fontsize="medium")
        png = _to_png_base64(fig)
    return {"title": f"Primary endpoint: {metric}", "kind": "estimate", "png_base64": png}


def training_curves(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series of ``metrics.jsonl``: one per numeric key, against the step (or epoch, or record).

    Parameters
    ----------
    records : list of dict
        The records of ``metrics.jsonl`` in the order they were logged.

    Returns
    -------
    list of dict
        ``{"name": str, "phase": str | None, "x_key": str, "x": [...], "y": [...]}`` per
        series; every ``(x, y)`` pair is the ``(record[x_key], record[name])`` of one record.
        ``x_key`` is ``"record"`` (the record's index) when a record has no step or epoch.
    """
    curves: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        x_key = next((k for k in _POSITION_KEYS if _is_number(record.get(k))), "record")
        x = record[x_key] if x_key != "record" else index
        phase = record.get("phase")
        phase = None if phase is None else str(phase)
        for name, value in record.items():
            if name in _BOOKKEEPING_KEYS or not _is_number(value):
                continue
            curve = curves.setdefault((name, phase, x_key), {"name": name, "phase": phase, "x_key": x_key,
                                                             "x": [], "y": []})
            curve["x"].append(x)
            curve["y"].append(value)
    return list(curves.values())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def training_curve_figures(curves: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Draw :func:`training_curves` output: losses, learning rates and other metrics apart.

    Returns
    -------
    list of dict
        As :func:`draw_figure`, at most three figures (losses, learning rate, other metrics).
    """
    import matplotlib

    groups: dict[str, list[dict[str, Any]]] = {"Training losses": [], "Learning rate": [],
                                               "Validation and other logged metrics": []}
    for curve in curves:
        name = curve["name"].lower()
        if "loss" in name:
            groups["Training losses"].append(curve)
        elif name in ("lr", "learning_rate") or name.endswith("_lr"):
            groups["Learning rate"].append(curve)
        else:
            groups["Validation and other logged metrics"].append(curve)
    figures = []
    with matplotlib.rc_context({"text.parse_math": False}):
        for title, members in groups.items():
            if not members:
                continue
            fig = _figure()
            ax = fig.add_subplot()
            for curve in members[:_MAX_LEGEND_ENTRIES]:
                label = curve["name"] if curve["phase"] is None else f"{curve['name']} ({curve['phase']})"
                ax.plot(curve["x"], curve["y"], marker="o" if len(curve["x"]) <= 30 else None, markersize=3,
                        label=label)
            ax.set_xlabel(" / ".join(sorted({c["x_key"] for c in members})))
            ax.set_title(title, fontsize="medium")
            ax.legend(fontsize="x-small", loc="best")
            figures.append({"title": title, "kind": "curve", "png_base64": _to_png_base64(fig)})
    return figures
