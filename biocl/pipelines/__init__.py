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
from biocl.evaluate.stats import bootstrap_ci, weighted_mean
from biocl.protocols.base import Protocol
from biocl.pipelines.runs import PipelineResult, RunContext, default_run_dir, environment_info

__all__ = ["PIPELINES", "pipeline_runner", "run_protocol", "build_results"]

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
        with RunContext(run_dir, protocol, rank=rank, resume=resume) as context:
            result: PipelineResult = pipeline_run(protocol, context)
            results = build_results(protocol, result, device=result.details.get("device", "cpu"),
                                    wall_time_s=context.elapsed_s())
            if context.is_main:
                context.write_results(results)
                if report:
                    from biocl.report import build_report

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
    value = float(result.metrics[acceptance.metric])
    units = np.asarray(result.primary_unit_values, dtype=float)
    weights = None if result.primary_unit_weights is None else np.asarray(result.primary_unit_weights, float)
    if units.size:
        unit_mean = weighted_mean(units, weights)
        if not np.isclose(unit_mean, value, atol=1e-9):
            raise AssertionError(f"per-unit values average to {unit_mean}, not the metric {value}")
        ci = bootstrap_ci(units, weights=weights, n_resamples=acceptance.ci_resamples, seed=acceptance.ci_seed)
    else:
        ci = (value, value)
    unit_ids = None if result.primary_unit_ids is None else [str(i) for i in result.primary_unit_ids]
    if unit_ids is not None and len(unit_ids) != units.size:
        raise AssertionError(f"{len(unit_ids)} unit ids for {units.size} unit values")
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
        "primary_endpoint": {
            "metric": acceptance.metric, "value": value, "ci95": [ci[0], ci[1]],
            "ci_method": f"percentile bootstrap over {units.size} {acceptance.unit}s, "
                         f"{acceptance.ci_resamples} resamples, seed {acceptance.ci_seed}",
            "unit": acceptance.unit, "n_units": int(units.size),
            "threshold": acceptance.threshold, "comparison": acceptance.comparison,
            "chance": acceptance.chance, "baseline": acceptance.baseline,
            "passed": bool(acceptance.passed(value)),
            # Per-unit values let `biocl report compare` pair two runs unit by unit.
            "unit_ids": unit_ids,
            "unit_values": units.tolist(),
            "unit_weights": None if weights is None else weights.tolist(),
        },
        "environment": environment_info(device),
        "wall_time_s": float(wall_time_s),
        **result.details,
    }
