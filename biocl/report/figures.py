"""Figures of a report: the plain-data figure specs of ``results.json`` drawn as inline SVG.

A pipeline never draws; it describes a figure as data (``docs/design.md``: ``bar``,
``grouped_bar``, ``histogram``, ``curve``, ``heatmap``, ``scatter``) and this module draws it
with matplotlib (no pyplot, so no global figure state) as SVG, sharp in print, with a
``<title>`` a screen reader (and a test) can read. A figure whose SVG would be heavy (many
thousand points) is embedded as a PNG instead. Every figure has a full title, axis titles
with units, a chance or threshold line where the spec gives one (``chance``, ``threshold``),
its legend outside the data, and heatmaps may share one colour scale (``vmin``/``vmax``).
Training curves are drawn from ``metrics.jsonl`` records.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from biocl.report.labels import axis_label, metric_label
from biocl.utils.console import stage_label
from biocl.utils.errors import BioclError

__all__ = ["FIGURE_KINDS", "draw_figure", "estimate_figure", "training_curves", "training_curve_figures",
           "constant_curves"]

# Keys of metrics.jsonl records that place a record in time rather than measure the model.
_POSITION_KEYS = ("step", "global_step", "epoch")
_BOOKKEEPING_KEYS = frozenset({"step", "global_step", "epoch", "phase", "time", "time_s", "elapsed_s",
                               "wall_time_s", "timestamp", "rank", "scope", "seed", "batch_size"})
# Logged random draws and choices (which layer a mix used, a sampled index): not a measure of the model.
_DRAW_KEYS = re.compile(r"(^|_)(mix_layer|layer|index|seed|draw|choice)$")
_MAX_SVG_BYTES = 600_000
_TITLE_WIDTH = 70
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


def _to_svg(fig, title: str) -> str:
    """The figure as an inline ``<svg>`` element: text kept as text, a ``<title>``, no URL, no XML prolog."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(fig)
    buffer = io.StringIO()
    with _rc({"svg.fonttype": "none", "svg.hashsalt": "biocl"}):
        fig.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    # Inline SVG in HTML needs no namespace declarations; they are the only URLs matplotlib writes.
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = re.sub(r'\s+width="[\d.]+pt"\s+height="[\d.]+pt"', "", text, count=1)
    # Several figures share one page: their ids (clip paths, markers) and style rules must not collide.
    prefix = "f" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8] + "-"
    text = re.sub(r'(id="|url\(#|href="#)([^")]+)', lambda m: m[1] + prefix + m[2], text)
    text = text.replace("*{stroke-linejoin", ".figure-svg *{stroke-linejoin")
    text = text.replace("://", "&#58;//")  # user text (a source URL in a label) never reads as a link
    return re.sub(r"<svg\b", f'<svg role="img" class="figure-svg" aria-label="{html.escape(title)}"', text,
                  count=1).replace(">", f"><title>{html.escape(title)}</title>", 1)


def _finish(fig, title: str, kind: str) -> dict[str, str]:
    """``{"title", "kind", "svg"}``, or ``"png_base64"`` instead of ``"svg"`` when the SVG is too heavy."""
    svg = _to_svg(fig, title)
    if len(svg.encode("utf-8")) <= _MAX_SVG_BYTES:
        return {"title": title, "kind": kind, "svg": svg}
    return {"title": title, "kind": kind, "png_base64": _to_png_base64(fig)}


def _rc(extra: dict[str, Any] | None = None):
    import matplotlib

    # Labels are user text (species, file names): a "$" must not be read as mathematics.
    return matplotlib.rc_context({"text.parse_math": False, **(extra or {})})


def _title(ax, title: str) -> None:
    ax.set_title("\n".join(textwrap.wrap(title, _TITLE_WIDTH)) or title, fontsize="medium")


def _legend_outside(ax, **options: Any) -> None:
    """A legend to the right of the axes, never over the data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False,
                  fontsize="x-small", **options)


def _reference_lines(ax, spec: dict[str, Any], axis: str = "y") -> None:
    """Chance and threshold of the spec as dashed lines across the axes, named in the legend."""
    line = ax.axhline if axis == "y" else ax.axvline
    for key, style, colour in (("threshold", "--", "#c0392b"), ("chance", ":", "#555555")):
        value = spec.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            line(float(value), linestyle=style, color=colour, linewidth=1.2, label=f"{key} {value:.3g}")


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
    labels = [metric_label(label) if re.fullmatch(r"[a-z][a-z0-9_]*_[a-z0-9_]+", label) else label
              for label in labels]
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
    ax.bar(positions, values, yerr=errors, capsize=3 if errors is not None else 0, color="#4c72b0",
           label="95 % CI" if errors is not None else None)
    _category_ticks(ax, labels)
    ax.set_ylabel(axis_label(str(spec.get("ylabel") or "value")))
    _reference_lines(ax, spec)
    _legend_outside(ax)


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
    ax.set_ylabel(axis_label(str(spec.get("ylabel") or "value")))
    _reference_lines(ax, spec)
    _legend_outside(ax)


def _draw_histogram(ax, spec: dict[str, Any]) -> None:
    values = _numbers(spec, "values")
    values = values[np.isfinite(values)]
    ax.hist(values, bins=int(spec.get("bins", 20)) if values.size else 1, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(axis_label(str(spec.get("xlabel") or "value")))
    ax.set_ylabel(str(spec.get("ylabel") or "count"))
    _reference_lines(ax, spec, axis="x")
    _legend_outside(ax)


def _draw_curve(ax, spec: dict[str, Any]) -> None:
    x = _numbers(spec, "x")
    series = spec.get("series") or {}
    if not series:
        raise BioclError(f"figure {spec.get('title', '')!r} (curve) has no series")
    for name, values in series.items():
        values = np.asarray(values, dtype=float)
        _same_length(spec, x=x, **{str(name): values})
        ax.plot(x, values, marker="o" if x.size <= 30 else None, markersize=3, label=str(name))
    ax.set_xlabel(axis_label(str(spec.get("xlabel") or "x")))
    ax.set_ylabel(axis_label(str(spec.get("ylabel") or "value")))
    _reference_lines(ax, spec)
    _legend_outside(ax)


def _draw_heatmap(ax, spec: dict[str, Any]) -> None:
    matrix = _numbers(spec, "matrix")
    if matrix.ndim != 2:
        raise BioclError(f"figure {spec.get('title', '')!r} (heatmap): matrix is not two-dimensional")
    rows = _texts(spec.get("row_labels") or [])
    cols = _texts(spec.get("col_labels") or [])
    scale = {key: float(spec[key]) for key in ("vmin", "vmax") if isinstance(spec.get(key), (int, float))}
    image = ax.imshow(matrix, aspect="auto", cmap="viridis", **scale)
    colourbar = ax.figure.colorbar(image, ax=ax)
    colourbar.set_label(str(spec.get("zlabel") or "value"))
    ax.set_xlabel(str(spec.get("xlabel") or ""))
    ax.set_ylabel(str(spec.get("ylabel") or ""))
    if len(rows) == matrix.shape[0]:
        _category_ticks(ax, rows, axis="y")
    if len(cols) == matrix.shape[1]:
        _category_ticks(ax, cols, axis="x")
    if matrix.size <= _MAX_ANNOTATED_CELLS:
        low, high = image.get_clim()
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7,
                    color="black" if value > middle else "white")


def _draw_scatter(ax, spec: dict[str, Any]) -> None:
    x = _numbers(spec, "x")
    y = _numbers(spec, "y")
    _same_length(spec, x=x, y=y)
    labels = _texts(spec.get("labels") or [])
    ax.set_xlabel(str(spec.get("xlabel") or "component 1 (arbitrary units)"))
    ax.set_ylabel(str(spec.get("ylabel") or "component 2 (arbitrary units)"))
    if len(labels) != x.size:
        ax.scatter(x, y, s=8)
        return
    groups = sorted(set(labels))
    colours = _palette(len(groups))
    for group, colour in zip(groups, colours):
        mask = np.array([label == group for label in labels])
        ax.scatter(x[mask], y[mask], s=8, color=colour, label=group if len(groups) <= _MAX_LEGEND_ENTRIES else None)
    if len(groups) <= _MAX_LEGEND_ENTRIES:
        _legend_outside(ax, markerscale=2)


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
    """Draw one figure spec of ``results.json`` for the HTML page.

    Parameters
    ----------
    spec : dict
        A figure spec of ``docs/design.md``; ``kind`` is one of :data:`FIGURE_KINDS`. Optional
        keys every kind reads: ``chance`` and ``threshold`` (reference lines, in the units of
        the value axis), ``vmin``/``vmax`` (a heatmap's colour scale), ``zlabel`` (its colour
        bar's title).

    Returns
    -------
    dict
        ``{"title": str, "kind": str, "svg": str}`` (an inline ``<svg>`` element with a
        ``<title>``), or ``"png_base64"`` in place of ``"svg"`` for a figure too heavy as SVG.

    Raises
    ------
    BioclError
        When the spec names an unknown kind or its arrays are missing or of unequal length.
    """
    if not isinstance(spec, dict):
        raise BioclError(f"a figure spec must be a mapping, not {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in _DRAWERS:
        raise BioclError(f"figure {spec.get('title', '')!r}: unknown kind {kind!r}",
                         hint=f"use one of {', '.join(FIGURE_KINDS)}")
    title = str(spec.get("title", ""))
    with _rc():
        fig = _figure(7.2 if kind in ("heatmap", "scatter", "grouped_bar") else 6.4,
                      4.2 if kind in ("heatmap", "scatter") else 3.6)
        ax = fig.add_subplot()
        _DRAWERS[kind](ax, spec)
        _title(ax, title)
        return _finish(fig, title, str(kind))


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
    title = f"Primary endpoint: {metric_label(metric)} of the model and the baselines, 95 % CI"
    with _rc():
        names = ["model"] + list(baselines or {})
        fig = _figure(7.2, 1.2 + 0.45 * len(names))
        ax = fig.add_subplot()
        low, high = float(ci95[0]), float(ci95[1])
        ax.errorbar([value], [0], xerr=[[max(value - low, 0.0)], [max(high - value, 0.0)]], fmt="o",
                    color="#1f3d7a", capsize=4, label="model (95 % CI)")
        for row, name in enumerate(names[1:], start=1):
            ax.plot([baselines[name]], [row], "s", color="#888888", label="baseline" if row == 1 else None)
        _reference_lines(ax, {"threshold": threshold, "chance": chance}, axis="x")
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlabel(axis_label(metric))
        _legend_outside(ax)
        _title(ax, title)
        return _finish(fig, title, "estimate")


def training_curves(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series of ``metrics.jsonl``: one per numeric key, against the step (or epoch, or record).

    Logged random draws (``train_mix_layer``: which layer a mix used) are no measure of the
    model and are left out.

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
            if name in _BOOKKEEPING_KEYS or _DRAW_KEYS.search(name) or not _is_number(value):
                continue
            curve = curves.setdefault((name, phase, x_key), {"name": name, "phase": phase, "x_key": x_key,
                                                             "x": [], "y": []})
            curve["x"].append(x)
            curve["y"].append(value)
    return list(curves.values())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_constant(curve: dict[str, Any]) -> bool:
    return len(set(curve["y"])) <= 1


def _curve_label(curve: dict[str, Any], several_phases: bool) -> str:
    label = metric_label(curve["name"])
    return f"{label}, {stage_label(curve['phase'])}" if several_phases and curve["phase"] is not None else label


def constant_curves(curves: list[dict[str, Any]]) -> list[str]:
    """One sentence per series that never changed (a constant learning rate): said, not plotted."""
    sentences = []
    for curve in curves:
        if _is_constant(curve):
            phase = "" if curve["phase"] is None else f" ({stage_label(curve['phase'])})"
            sentences.append(f"{metric_label(curve['name'])}{phase} stayed at {curve['y'][0]:.3g} for all "
                             f"{len(curve['y'])} records.")
    return sentences


def training_curve_figures(curves: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Draw :func:`training_curves` output: losses, learning rates and other metrics apart.

    A series that never changes is not drawn (:func:`constant_curves` says it in words);
    a validation series is named "validation ...", never by the phase it was logged in.

    Returns
    -------
    list of dict
        As :func:`draw_figure`, at most three figures (losses, learning rate, other metrics).
    """
    groups: dict[str, list[dict[str, Any]]] = {"Training losses per step": [], "Learning rate per step": [],
                                               "Validation and other logged metrics": []}
    for curve in curves:
        if _is_constant(curve):
            continue
        name = curve["name"].lower()
        if "loss" in name and not name.startswith("val"):
            groups["Training losses per step"].append(curve)
        elif name in ("lr", "learning_rate") or name.endswith("_lr"):
            groups["Learning rate per step"].append(curve)
        else:
            groups["Validation and other logged metrics"].append(curve)
    figures = []
    with _rc():
        for title, members in groups.items():
            if not members:
                continue
            fig = _figure(7.2, 3.6)
            ax = fig.add_subplot()
            several_phases = len({c["phase"] for c in members}) > 1
            for curve in members[:_MAX_LEGEND_ENTRIES]:
                ax.plot(curve["x"], curve["y"], marker="o" if len(curve["x"]) <= 30 else None, markersize=3,
                        label=_curve_label(curve, several_phases))
            ax.set_xlabel(" / ".join(sorted({c["x_key"] for c in members})))
            names = {c["name"] for c in members}
            ax.set_ylabel(axis_label(next(iter(names))) if len(names) == 1 else "value (see legend)")
            _legend_outside(ax)
            _title(ax, title)
            figures.append(_finish(fig, title, "curve"))
    return figures
