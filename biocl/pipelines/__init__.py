"""The missions, one package each, wiring data, encoders, heads, trainer, evaluation and report.

Each protocol pipeline's package (``brain_speech/``, ``dna_species/``, ``audio_temporal/``)
exposes ``SECTIONS`` (its schema, from :mod:`biocl.protocols`) and
``run(protocol, context) -> PipelineResult``; :func:`run_protocol` opens the run folder,
calls it, and writes ``results.json`` and the report. ``dna_binning/`` is the binning
command's pipeline (no protocol: it bins a user's FASTA).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from biocl.utils.errors import BioclError
from biocl.utils.io import check_output_dir
from biocl.evaluate.stats import unit_interval, weighted_mean
from biocl.protocols.base import Protocol
from biocl.pipelines.runs import PipelineResult, RunContext, default_run_dir, environment_info

__all__ = ["PIPELINES", "pipeline_runner", "run_protocol", "build_results", "primary_endpoint"]

Runner = Callable[[Protocol, RunContext], PipelineResult]
#: Each pipeline's ``run``, by name; filled on first use (the pipelines import torch and MNE).
PIPELINES: dict[str, Runner] = {}


def pipeline_runner(name: str) -> Runner:
    """The ``run`` function of the pipeline registered as ``name``."""
    from biocl.pipelines import audio_temporal, brain_speech, dna_species

    for package in (brain_speech, dna_species, audio_temporal):
        PIPELINES.setdefault(package.SECTIONS.name, package.run)
    return PIPELINES[name]


def run_protocol(protocol: Protocol, out: str | Path | None = None, *, resume: bool = False,
                 report: bool = True) -> tuple[Path, dict[str, Any]]:
    """Run a protocol end to end and write its run directory.

    Returns
    -------
    run_dir : Path
        The run directory.
    results : dict
        The content of ``results.json``.
    """
    from biocl.train import distributed

    pipeline_run = pipeline_runner(protocol.pipeline)
    # Under torchrun each process joins the group here; a group made by the caller is theirs to end.
    owns_group = distributed.world_size() == 1
    rank, _, _ = distributed.init_from_env(protocol.train.device)
    finished = False
    try:
        run_dir = Path(out) if out is not None else default_run_dir(protocol)
        # Every rank must use rank 0's folder: their timestamps may straddle a second.
        run_dir = Path(distributed.broadcast_object(str(run_dir)))
        if resume and not run_dir.is_dir():
            raise BioclError("cannot resume: no such run folder", path=run_dir)
        # A file or an unwritable place where the run folder should go is refused before any work.
        check_output_dir(run_dir, overwrite=True)
        with RunContext(run_dir, protocol, rank=rank, resume=resume) as context:
            result: PipelineResult = pipeline_run(protocol, context)
            results = build_results(protocol, result, device=result.details.get("device", "cpu"),
                                    wall_time_s=context.elapsed_s())
            if context.is_main:
                context.write_results(results)
                if report:
                    from biocl.report import build_report
                    from biocl.utils.console import stage

                    with stage("writing the report"):
                        build_report(run_dir)
        finished = True
    finally:
        if owns_group:
            distributed.destroy(synchronize=finished)
    return run_dir, results


def build_results(protocol: Protocol, result: PipelineResult, *, device: str, wall_time_s: float) -> dict[str, Any]:
    """Assemble the ``results.json`` document from a pipeline's result."""
    acceptance = protocol.acceptance
    if acceptance.metric not in result.metrics:
        raise BioclError(f"the acceptance metric {acceptance.metric!r} is not among the run's metrics "
                         f"({', '.join(sorted(result.metrics))})", path=protocol.source_path)
    return {
        "protocol": {"name": protocol.name, "version": protocol.version, "sha256": protocol.sha256,
                     "path": str(protocol.source_path) if protocol.source_path else None,
                     "seed": protocol.seed, "description": protocol.description,
                     "intended_use": protocol.intended_use, "out_of_scope_use": protocol.out_of_scope_use,
                     "limitations": list(protocol.limitations)},
        "pipeline": protocol.pipeline,
        "data": result.data,
        "metrics": {k: float(v) for k, v in result.metrics.items()},
        "baselines": {b: {k: float(v) for k, v in m.items()} for b, m in result.baselines.items()},
        "primary_endpoint": primary_endpoint(protocol, result),
        "environment": environment_info(device),
        "wall_time_s": float(wall_time_s),
        **result.details,
    }


def primary_endpoint(protocol: Protocol, result: PipelineResult) -> dict[str, Any]:
    """The pre-specified endpoint resolved against the data: value, interval, chance, threshold, verdict.

    Chance is the run's own ``chance`` baseline of the metric (computed from the data), never
    a number typed in the protocol; a protocol's ``expected_chance`` that disagrees with it
    is reported as a warning. A threshold relative to chance or to a baseline is resolved
    here, after the run, by the rule fixed in the protocol before it.
    """
    acceptance = protocol.acceptance
    metric = acceptance.metric
    value = float(result.metrics[metric])
    chance = result.baselines.get("chance", {}).get(metric)
    chance = None if chance is None else float(chance)
    references = {name: float(m[metric]) for name, m in result.baselines.items() if name != "chance" and metric in m}
    try:
        threshold = acceptance.rule.resolve(chance, references)
    except BioclError as err:
        raise BioclError(err.message, path=protocol.source_path, hint=err.hint) from None
    units, weights, unit_ids = _unit_values(result, value)
    if result.primary_ci is not None:
        ci, ci_method = tuple(result.primary_ci), str(result.primary_ci_method)
    elif units.size:
        ci, ci_method = unit_interval(units, weights=weights, n_resamples=acceptance.ci_resamples,
                                      seed=acceptance.ci_seed)
        ci_method = ci_method.replace(" units", f" {acceptance.unit}s")
    else:
        ci, ci_method = (value, value), "none: the pipeline reported no units to resample"
    return {
        "metric": metric, "value": value, "ci95": [float(ci[0]), float(ci[1])], "ci_method": ci_method,
        "unit": acceptance.unit, "n_units": int(units.size),
        "threshold": float(threshold), "threshold_rule": str(acceptance.rule), "comparison": acceptance.comparison,
        "chance": chance, "chance_source": "computed from the data" if chance is not None else None,
        "baseline": acceptance.baseline,
        "passed": bool(acceptance.passed(value, threshold)),
        "warnings": _chance_warnings(acceptance.expected_chance, chance),
        # Per-unit values let `biocl report compare` pair two runs unit by unit.
        "unit_ids": unit_ids,
        "unit_values": units.tolist(),
        "unit_weights": None if weights is None else weights.tolist(),
    }


def _unit_values(result: PipelineResult, value: float) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    units = np.asarray(result.primary_unit_values, dtype=float)
    weights = None if result.primary_unit_weights is None else np.asarray(result.primary_unit_weights, float)
    if units.size and result.primary_ci is None:
        unit_mean = weighted_mean(units, weights)
        if not np.isclose(unit_mean, value, atol=1e-9):
            raise AssertionError(f"per-unit values average to {unit_mean}, not the metric {value}")
    unit_ids = None if result.primary_unit_ids is None else [str(i) for i in result.primary_unit_ids]
    if unit_ids is not None and len(unit_ids) != units.size:
        raise AssertionError(f"{len(unit_ids)} unit ids for {units.size} unit values")
    return units, weights, unit_ids


def _chance_warnings(expected: float | None, chance: float | None) -> list[str]:
    if expected is None:
        return []
    if chance is None:
        return [f"the protocol expects chance {expected:g}, but this run computes no chance level for its metric"]
    if not np.isclose(expected, chance, rtol=1e-3, atol=1e-6):
        return [f"the protocol expects chance {expected:g}; the data give {chance:.4g}, which is used"]
    return []
