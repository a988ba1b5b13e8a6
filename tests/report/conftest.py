"""Hand-made run folders of the three pipelines, with every details key of docs/design.md.

The pipelines are built in parallel with the report, so the report is tested against run
folders written here: ``results.json`` as ``biocl.pipelines.build_results`` writes it (the
primary endpoint's CI computed from its unit values by the real bootstrap), a resolved
protocol and a metrics log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from biocl.evaluate.stats import bootstrap_ci

SCRIPT_ID = "<script>alert(1)</script>"
PIPELINES = ("brain_speech", "dna_species", "audio_temporal")


def _environment() -> dict[str, Any]:
    return {"biocl": "0.1.0", "git_commit": "0123456789abcdef0123456789abcdef01234567", "python": "3.11.2",
            "torch": "2.11.0", "numpy": "2.2.0", "scikit_learn": "1.6.0", "device": "cpu", "cuda_device": None,
            "torch_threads": 1, "cpu_count": 2, "platform": "Linux-x86_64", "world_size": 1}


def _endpoint(metric: str, unit: str, ids: list[str], values: list[float], *, threshold: float, chance: float,
              baseline: str | None, weights: list[float] | None = None, comparison: str = ">=") -> dict[str, Any]:
    units = np.asarray(values, dtype=float)
    w = None if weights is None else np.asarray(weights, dtype=float)
    value = float(units.mean() if w is None else (units * w).sum() / w.sum())
    low, high = bootstrap_ci(units, weights=w, n_resamples=1000, seed=0)
    passed = value >= threshold if comparison == ">=" else value <= threshold
    return {"metric": metric, "value": value, "ci95": [low, high],
            "ci_method": f"percentile bootstrap over {units.size} {unit}s, 1000 resamples, seed 0",
            "unit": unit, "n_units": int(units.size), "threshold": threshold, "comparison": comparison,
            "chance": chance, "baseline": baseline, "passed": bool(passed),
            "unit_ids": ids, "unit_values": units.tolist(), "unit_weights": weights}


def _protocol_block(name: str, limitations: list[str]) -> dict[str, Any]:
    return {"name": name, "version": "1.0", "sha256": "ab" * 32, "path": f"/work/protocols/{name}.yaml", "seed": 7,
            "description": f"Quick {name} run on simulated data.",
            "intended_use": "Checking that the pipeline runs end to end and beats chance on simulated data.",
            "out_of_scope_use": "Any clinical or diagnostic decision.", "limitations": limitations}


def brain_results() -> dict[str, Any]:
    subjects = [f"sub-{i:02d}" for i in range(1, 13)]
    values = [0.35, 0.42, 0.51, 0.38, 0.44, 0.29, 0.47, 0.40, 0.36, 0.45, 0.39, 0.46]
    windows = [50.0, 40.0, 60.0, 50.0, 45.0, 55.0, 50.0, 40.0, 60.0, 50.0, 45.0, 55.0]
    endpoint = _endpoint("top10_accuracy", "subject", subjects, values, threshold=0.2, chance=0.1,
                         baseline="random_encoder", weights=windows)
    rng = np.random.default_rng(0)
    return {
        "protocol": _protocol_block("brain_speech_quick", ["Twelve simulated subjects only."]),
        "pipeline": "brain_speech",
        "data": {"simulated": True, "description": "MEG from the biocl simulator, 3 s windows", "source": "biocl simulate meg",
                 "licence": "CC0-1.0", "sha256": "cd" * 32, "sfreq_hz": 120.0, "n_channels": 273},
        "metrics": {"top10_accuracy": endpoint["value"], "top1_accuracy": 0.12, "median_rank": 14.0},
        "baselines": {"random_encoder": {"top10_accuracy": 0.1, "top1_accuracy": 0.01, "median_rank": 50.0},
                      "linear_ridge": {"top10_accuracy": 0.22, "top1_accuracy": 0.04, "median_rank": 31.0}},
        "primary_endpoint": endpoint,
        "environment": _environment(),
        "wall_time_s": 93.25,
        "flow": [{"stage": "subjects simulated", "count": 12, "unit": "subject"},
                 {"stage": "recordings read", "count": 24, "unit": "recording"},
                 {"stage": "windows after rejection", "count": 1180, "unit": "window"},
                 {"stage": "test windows", "count": 600, "unit": "window"}],
        "exclusions": [{"reason": "flat channel", "count": 3, "unit": "channel"},
                       {"reason": "peak-to-peak above 4 pT", "count": 20, "unit": "window"}],
        "disjointness": {"asserted": True, "description": "No speech segment appears in both train and test."},
        "subgroups": [
            {"name": "subject", "prespecified": True, "metric": "top10_accuracy",
             "rows": [{"group": s, "value": v, "ci95": [v - 0.05, v + 0.05], "n": int(w)}
                      for s, v, w in zip(subjects, values, windows)]},
            {"name": "word_frequency", "prespecified": False, "metric": "top10_accuracy",
             "rows": [{"group": "rare", "value": 0.31, "ci95": [0.25, 0.37], "n": 200},
                      {"group": "frequent", "value": 0.48, "ci95": [0.43, 0.53], "n": 400}]}],
        "worst_cases": [{"id": "sub-09/seg-0007", "value": 88.0, "metric": "rank of the true segment",
                         "higher_is_better": False, "subject": "sub-09", "sentence": "seg-0007", "word": "river"},
                        {"id": "sub-06/seg-0042", "value": 97.0, "metric": "rank of the true segment",
                         "higher_is_better": False, "subject": "sub-06", "sentence": "seg-0042", "word": "bell"}],
        "model": {"name": "simpleconv", "parameters": 1234567,
                  "spec": {"hidden": 64, "depth": 4, "subject_layers": True, "dropout": 0.1}},
        "checkpoint": {"path": "checkpoints/best.safetensors", "sha256": "ef" * 32},
        "permutation_test": {"metric": "top10_accuracy", "observed": endpoint["value"], "p_value": 0.000999,
                             "n_permutations": 1000},
        "figures": [
            {"kind": "histogram", "title": "Rank of the true segment", "values": rng.integers(1, 100, 300).tolist(),
             "bins": 20, "xlabel": "rank"},
            {"kind": "curve", "title": "Top-k accuracy", "x": [1, 5, 10, 20, 50],
             "series": {"model": [0.12, 0.3, 0.41, 0.58, 0.83], "chance": [0.01, 0.05, 0.1, 0.2, 0.5]},
             "xlabel": "k", "ylabel": "accuracy"},
            {"kind": "bar", "title": "Top-10 accuracy per subject", "labels": subjects, "values": values,
             "ci": [[v - 0.05, v + 0.05] for v in values], "ylabel": "top10_accuracy"}],
        "device": "cpu",
    }


def dna_results() -> dict[str, Any]:
    ids = [f"seq{i:03d}" for i in range(40)]
    ids[3] = SCRIPT_ID
    values = [1.0 if i % 3 else 0.0 for i in range(40)]
    endpoint = _endpoint("few_shot_accuracy", "sequence", ids, values, threshold=0.5, chance=0.2, baseline="tnf")
    species = ["E. coli", "B. subtilis", "S. aureus", "P. putida", "M. tuberculosis"]
    rng = np.random.default_rng(1)
    return {
        "protocol": _protocol_block("dna_species_quick", []),
        "pipeline": "dna_species",
        "data": {"simulated": True, "description": "Genomes simulated from 5 species profiles",
                 "source": "https://www.ncbi.nlm.nih.gov/refseq/ (species names only)", "licence": "public domain",
                 "sha256": "12" * 32, "min_length_bp": 1000},
        "metrics": {"few_shot_accuracy": endpoint["value"], "ari": 0.62, "binning_f1": 0.55},
        "baselines": {"tnf": {"few_shot_accuracy": 0.45, "ari": 0.31}},
        "primary_endpoint": endpoint,
        "environment": _environment(),
        "wall_time_s": 41.5,
        "flow": [{"stage": "genomes", "count": 5, "unit": "genome"},
                 {"stage": "sequences read", "count": 520, "unit": "sequence"},
                 {"stage": "test sequences", "count": 40, "unit": "sequence"}],
        "exclusions": [{"reason": "shorter than 1000 bp", "count": 12, "unit": "sequence"},
                       {"reason": "more than 5 % N", "count": 0, "unit": "sequence"}],
        "disjointness": {"asserted": True, "description": "Train and test species are disjoint."},
        "subgroups": [{"name": "species", "prespecified": True, "metric": "few_shot_accuracy",
                       "rows": [{"group": s, "value": 0.6 + 0.05 * k, "ci95": [0.4, 0.8], "n": 8}
                                for k, s in enumerate(species)]},
                      {"name": "gc_content", "prespecified": True, "metric": "few_shot_accuracy",
                       "rows": [{"group": "low GC", "value": 0.58, "ci95": [0.41, 0.74], "n": 20}]}],
        "worst_cases": [{"id": SCRIPT_ID, "value": 0.0, "detail": "assigned to <b>B. subtilis</b>"},
                        {"id": "seq006", "value": 0.0, "detail": "assigned to S. aureus"}],
        "model": {"name": "dnabert_s_tiny", "parameters": 8_000_000,
                  "spec": {"tokenizer": "bpe", "layers": 2, "heads": {"count": 4, "dim": 32}}},
        "checkpoint": {"path": "checkpoints/best.safetensors", "sha256": "34" * 32},
        "permutation_test": {"metric": "few_shot_accuracy", "observed": endpoint["value"], "p_value": 0.0099,
                             "n_permutations": 100},
        "figures": [
            {"kind": "heatmap", "title": "Bins vs species", "matrix": rng.integers(0, 20, (5, 6)).tolist(),
             "row_labels": species, "col_labels": [f"bin {k}" for k in range(6)]},
            {"kind": "scatter", "title": "Embedding map (PCA)", "x": rng.normal(size=60).tolist(),
             "y": rng.normal(size=60).tolist(), "labels": [species[k % 5] for k in range(59)] + ["$x^2$ sp."]},
            {"kind": "bar", "title": "F1 per species", "labels": species, "values": [0.5, 0.6, 0.55, 0.7, 0.4],
             "ci": None, "ylabel": "F1"}],
        "device": "cpu",
    }


def audio_results() -> dict[str, Any]:
    clips = [f"clip_{i:02d}.wav" for i in range(30)]
    values = [1.0 if i % 4 else 0.0 for i in range(30)]
    endpoint = _endpoint("zste_accuracy", "clip", clips, values, threshold=0.6, chance=0.5, baseline="clap_before")
    tasks = ["order", "count", "duration"]
    return {
        "protocol": _protocol_block("audio_temporal_quick", ["Composed clips only.", "One seed."]),
        "pipeline": "audio_temporal",
        "data": {"simulated": True, "description": "Tones and noise bursts composed in time",
                 "source": "biocl simulate audio", "licence": "CC0-1.0", "sha256": "56" * 32, "sample_rate_hz": 16000},
        "metrics": {"zste_accuracy": endpoint["value"], "order_accuracy": 0.8, "count_accuracy": 0.7},
        "baselines": {"clap_before": {"zste_accuracy": 0.52, "order_accuracy": 0.5}},
        "primary_endpoint": endpoint,
        "environment": {**_environment(), "git_commit": "0123456789abcdef0123456789abcdef01234567-dirty"},
        "wall_time_s": 120.0,
        "flow": [{"stage": "sounds simulated", "count": 60, "unit": "clip"},
                 {"stage": "composed pairs", "count": 120, "unit": "pair"},
                 {"stage": "test clips", "count": 30, "unit": "clip"}],
        "exclusions": [],
        "disjointness": {"asserted": False, "description": "Test clips reuse training sounds in new orders."},
        "subgroups": [{"name": "task", "prespecified": True, "metric": "accuracy",
                       "rows": [{"group": t, "value": 0.7, "ci95": [0.5, 0.85], "n": 10} for t in tasks]}],
        "worst_cases": [{"id": "clip_00.wav", "value": 0.0, "detail": "order reversed"}],
        "model": {"name": "clap_tiny", "parameters": 2_500_000, "spec": {"audio": {"n_mels": 64}, "text": {"dim": 128}}},
        "checkpoint": {"path": "checkpoints/best.safetensors", "sha256": "78" * 32},
        "permutation_test": {"metric": "zste_accuracy", "observed": endpoint["value"], "p_value": 0.02,
                             "n_permutations": 200},
        "before_after": {"order_accuracy": {"before": 0.5, "after": 0.8},
                         "count_accuracy": {"before": 0.45, "after": 0.7}},
        "figures": [
            {"kind": "grouped_bar", "title": "ZSTE before and after", "labels": tasks,
             "series": {"before": [0.5, 0.45, 0.55], "after": [0.8, 0.7, 0.6]}, "ylabel": "accuracy"},
            {"kind": "heatmap", "title": "Similarity of one composed pair", "matrix": [[0.9, 0.1], [0.2, 0.8]],
             "row_labels": ["dog then bell", "bell then dog"], "col_labels": ["audio 1", "audio 2"]}],
        "device": "cpu",
    }


RESULTS = {"brain_speech": brain_results, "dna_species": dna_results, "audio_temporal": audio_results}


def _resolved_protocol(results: dict[str, Any], prespecified: list[str]) -> str:
    endpoint = results["primary_endpoint"]
    protocol = {**{k: v for k, v in results["protocol"].items() if k not in ("sha256", "path")},
                "pipeline": results["pipeline"],
                "acceptance": {"metric": endpoint["metric"], "comparison": endpoint["comparison"],
                               "threshold": endpoint["threshold"], "chance": endpoint["chance"],
                               "baseline": endpoint["baseline"], "unit": endpoint["unit"], "ci_resamples": 1000,
                               "ci_seed": 0, "prespecified_subgroups": prespecified}}
    return f"# sha256 of the protocol file: {results['protocol']['sha256']}\n" + yaml.safe_dump(protocol, sort_keys=False)


def _records() -> list[dict[str, Any]]:
    records = []
    for epoch in range(3):
        for step in range(4):
            records.append({"phase": "train", "epoch": epoch, "step": epoch * 4 + step,
                            "loss": 3.0 - 0.2 * (epoch * 4 + step), "lr": 3e-4 * 0.95 ** epoch})
        records.append({"phase": "train", "epoch": epoch, "val_top10_accuracy": 0.2 + 0.07 * epoch})
    return records


def write_run(folder: Path, results: dict[str, Any], *, prespecified: list[str] | None = None,
              records: list[dict[str, Any]] | None = None, protocol: bool = True) -> Path:
    """Write a run folder holding ``results``; ``prespecified`` defaults to the subgroups flagged so."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    if protocol and "protocol" in results:
        if prespecified is None:
            prespecified = [s["name"] for s in results.get("subgroups", []) if s.get("prespecified")]
        (folder / "protocol.resolved.yaml").write_text(_resolved_protocol(results, prespecified), encoding="utf-8")
    lines = [json.dumps(record) for record in (_records() if records is None else records)]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    return folder


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """``make_run(pipeline or results dict, name=..., **write_run options)`` -> a run folder."""

    def make(what: str | dict[str, Any], name: str | None = None, **options: Any) -> Path:
        results = RESULTS[what]() if isinstance(what, str) else what
        return write_run(tmp_path / (name or f"{results['pipeline']}-run"), results, **options)

    return make


@pytest.fixture
def results_of() -> Callable[[str], dict[str, Any]]:
    """``results_of(pipeline)`` -> a fresh hand-made ``results.json`` document to modify."""
    return lambda pipeline: RESULTS[pipeline]()


@pytest.fixture(scope="session")
def built_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three hand-made run folders with their HTML and JSON report, built once per session."""
    from biocl.report import build_report

    root = tmp_path_factory.mktemp("built-runs")
    runs = {}
    for pipeline in PIPELINES:
        runs[pipeline] = write_run(root / f"{pipeline}-run", RESULTS[pipeline]())
        build_report(runs[pipeline], formats=("html", "json"))
    return runs


@pytest.fixture(params=PIPELINES)
def built_run(request: pytest.FixtureRequest, built_runs: dict[str, Path]) -> Path:
    """One run folder per pipeline, its report already built (read it, do not modify it)."""
    return built_runs[request.param]
