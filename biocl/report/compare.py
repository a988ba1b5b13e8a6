"""Two runs side by side, with a paired bootstrap CI of the difference on the primary endpoint.

Two runs evaluated on the same test units (subjects, sequences, clips) are compared unit by
unit: the per-unit values that ``results.json`` stores under ``primary_endpoint.unit_values``
are paired by ``primary_endpoint.unit_ids``, and the units (not the windows or items inside
them) are resampled, so the interval reflects how the difference varies across units.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import biocl
from biocl.utils.errors import BioclError
from biocl.evaluate.stats import bootstrap_ci, weighted_mean
from biocl.utils.io import write_json, write_text
from biocl.report.builder import inlined_css, read_run, template_environment
from biocl.report.figures import draw_figure
from biocl.report.material import RunFiles, data_kind, fmt, verdict_rule

__all__ = ["compare_runs", "write_comparison"]

_DEFAULT_RESAMPLES = 2000


def _units(run: RunFiles, run_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    endpoint = run.endpoint
    values, ids = endpoint.get("unit_values"), endpoint.get("unit_ids")
    where = run_dir / "results.json"
    if not values or ids is None:
        raise BioclError("results.json stores no per-unit values with unit ids for the primary endpoint",
                         path=where, hint="rerun the protocol with this version of biocl to compare runs")
    if len(ids) != len(values):
        raise BioclError(f"{len(ids)} unit ids for {len(values)} unit values", path=where)
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise BioclError("the primary endpoint's unit ids are not unique, so units cannot be paired", path=where)
    weights = endpoint.get("unit_weights")
    return ids, np.asarray(values, dtype=float), None if weights is None else np.asarray(weights, dtype=float)


def _summary(run: RunFiles, run_dir: Path) -> dict[str, Any]:
    endpoint = run.endpoint
    protocol = run.results.get("protocol") or {}
    return {"run_id": run.run_id, "run_dir": str(run_dir.resolve()), "protocol": protocol.get("name"),
            "protocol_version": protocol.get("version"), "data_kind": data_kind(run.results),
            "value": endpoint["value"], "ci95": endpoint["ci95"], "ci_method": endpoint.get("ci_method"),
            "n_units": endpoint.get("n_units"), "passed": endpoint["passed"], "verdict": verdict_rule(endpoint)}


def _resampling(run: RunFiles, n_resamples: int | None, seed: int | None) -> tuple[int, int]:
    acceptance = (run.protocol or {}).get("acceptance") or {}
    if n_resamples is None:
        n_resamples = int(acceptance.get("ci_resamples", _DEFAULT_RESAMPLES))
    if seed is None:
        seed = int(acceptance.get("ci_seed", 0))
    return n_resamples, seed


def compare_runs(run_a: str | Path, run_b: str | Path, *, n_resamples: int | None = None,
                 seed: int | None = None) -> dict[str, Any]:
    """Compare two runs' primary endpoints over the units both were evaluated on.

    Parameters
    ----------
    run_a, run_b : str | Path
        Run folders whose ``results.json`` share the primary metric and resampling unit.
    n_resamples : int | None
        Bootstrap resamples; by default run A's ``acceptance.ci_resamples`` (else 2000).
    seed : int | None
        Seed of the resampling generator; by default run A's ``acceptance.ci_seed`` (else 0).

    Returns
    -------
    dict
        ``metric``, ``unit``, ``runs`` (``a`` and ``b``: value, CI, verdict), ``difference``
        (``estimate`` of A minus B over the paired units with its ``ci95``, ``method``,
        ``n_paired``, ``only_in_a``, ``only_in_b``, and each run's value on the paired units)
        and ``metrics`` (every metric of either run, ``{"a": ..., "b": ...}``).

    Raises
    ------
    BioclError
        When a run lacks per-unit values, the runs measure different metrics or units, share
        no unit, or weigh the shared units differently.
    """
    run_a, run_b = Path(run_a), Path(run_b)
    a, b = read_run(run_a), read_run(run_b)
    metric_a, metric_b = a.endpoint["metric"], b.endpoint["metric"]
    if metric_a != metric_b:
        raise BioclError(f"the runs have different primary metrics ({metric_a} vs {metric_b})", path=run_b,
                         hint="compare runs of protocols with the same acceptance.metric")
    unit_a, unit_b = a.endpoint.get("unit"), b.endpoint.get("unit")
    if unit_a != unit_b:
        raise BioclError(f"the runs resample different units ({unit_a} vs {unit_b})", path=run_b)
    ids_a, values_a, weights_a = _units(a, run_a)
    ids_b, values_b, weights_b = _units(b, run_b)
    index_b = {unit: position for position, unit in enumerate(ids_b)}
    paired = [unit for unit in ids_a if unit in index_b]
    if not paired:
        raise BioclError("the two runs share no evaluation unit, so a paired comparison is impossible",
                         path=run_b, hint="compare runs evaluated on the same test data")
    take_a = np.array([ids_a.index(unit) for unit in paired]) if len(paired) < len(ids_a) else np.arange(len(ids_a))
    take_b = np.array([index_b[unit] for unit in paired])
    pa, pb = values_a[take_a], values_b[take_b]
    weights = _paired_weights(weights_a, weights_b, take_a, take_b, run_b)
    n_resamples, seed = _resampling(a, n_resamples, seed)
    difference = pa - pb
    low, high = bootstrap_ci(difference, weights=weights, n_resamples=n_resamples, seed=seed)
    metrics_a, metrics_b = a.results.get("metrics") or {}, b.results.get("metrics") or {}
    return {
        "metric": metric_a,
        "unit": unit_a,
        "comparison": a.endpoint.get("comparison"),
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "biocl_version": biocl.__version__,
        "runs": {"a": _summary(a, run_a), "b": _summary(b, run_b)},
        "difference": {
            "direction": "a - b",
            "estimate": weighted_mean(difference, weights),
            "ci95": [low, high],
            "method": f"paired percentile bootstrap over the {len(paired)} {unit_a}s in both runs, "
                      f"{n_resamples} resamples, seed {seed}",
            "n_paired": len(paired),
            "a_on_paired_units": weighted_mean(pa, weights),
            "b_on_paired_units": weighted_mean(pb, weights),
            "only_in_a": [unit for unit in ids_a if unit not in index_b],
            "only_in_b": sorted(set(ids_b) - set(ids_a)),
            "unit_differences": {unit: float(d) for unit, d in zip(paired, difference)},
        },
        "metrics": {name: {"a": metrics_a.get(name), "b": metrics_b.get(name)}
                    for name in dict.fromkeys([*metrics_a, *metrics_b])},
    }


def _paired_weights(weights_a: np.ndarray | None, weights_b: np.ndarray | None, take_a: np.ndarray,
                    take_b: np.ndarray, run_b: Path) -> np.ndarray | None:
    if weights_a is None and weights_b is None:
        return None
    if weights_a is None or weights_b is None or not np.allclose(weights_a[take_a], weights_b[take_b]):
        # Different weights mean different test items inside the same units: the runs did not
        # see the same data, and no single weighted difference describes them both.
        raise BioclError("the runs weigh the shared units differently (different test items per unit)",
                         path=run_b, hint="compare runs evaluated on the same test data")
    return weights_a[take_a]


def write_comparison(comparison: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``compare.json`` and a self-contained ``compare.html`` into ``out_dir``, atomically.

    Returns
    -------
    dict
        ``{"json": path, "html": path}``.
    """
    out_dir = Path(out_dir)
    runs = comparison["runs"]
    metric = comparison["metric"]
    bars = draw_figure({"kind": "bar", "title": f"{metric} of each run (95 % CI)",
                        "labels": [f"A: {runs['a']['run_id']}", f"B: {runs['b']['run_id']}"],
                        "values": [runs["a"]["value"], runs["b"]["value"]],
                        "ci": [runs["a"]["ci95"], runs["b"]["ci95"]], "ylabel": metric})
    histogram = draw_figure({"kind": "histogram", "title": f"Per-{comparison['unit']} difference A - B",
                             "values": list(comparison["difference"]["unit_differences"].values()),
                             "bins": 20, "xlabel": f"{metric} (A - B)"})
    html = template_environment().get_template("compare.html.j2").render(
        comparison=comparison, figures=[bars, histogram], css=inlined_css(), fmt=fmt)
    return {"json": write_json(out_dir / "compare.json", comparison),
            "html": write_text(out_dir / "compare.html", html)}
