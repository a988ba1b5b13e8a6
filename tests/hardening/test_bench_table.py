"""`make bench` (benchmarks/run_all.py): one table across the pipelines, saved as JSON per commit."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parents[2] / "benchmarks" / "run_all.py"

DOCUMENTS = {
    "bench_brain": {"rows": [{"measure": "train quick", "windows_per_s": 80.0, "parameters": 10},
                             {"measure": "mel features, second run (cached)", "ms": 1.5}]},
    "bench_dna": {"length_bp": 10000, "rows": [{"features": "dna_conv (both strands)", "sequences_per_s": 20.0,
                                                "bp_per_s": 2e5}]},
    "bench_binning": {"rows": [{"case": "tnf:TNF", "n": 300, "length_bp": 10000, "sequences_per_s": 6000.0},
                               {"case": "graph (exact)", "n": 10000, "total_s": 2.5, "peak_rss_mb": 700.0,
                                "n_f1_above_0_5": 38, "ari_vs_truth": 0.9},
                               {"case": "graph (faiss)", "n": 1000000, "error": ["faiss is not installed"]}]},
    "bench_audio": {"rows": [{"clip_s": 1.0, "mode": "inference", "batch_size": 16, "clips_per_s": 500.0}]},
    "bench_heads": {"rows": [{"loss": "supcon", "batch": 256, "ms_1_process": 12.0, "ms_2_processes": 9.0}]},
}


@pytest.fixture
def run_all(monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("biocl_bench_run_all", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    calls = []

    def fake_run(script: Path, args: list[str], timeout_s: float):
        calls.append((script.stem, args))
        if script.stem not in DOCUMENTS:
            return None, 0.1, "boom: an unexpected failure"
        return DOCUMENTS[script.stem], 0.1, ""

    monkeypatch.setattr(module, "run_benchmark", fake_run)
    module.calls = calls
    return module


def test_one_table_across_the_pipelines_saved_per_commit(run_all, tmp_path: Path, capsys) -> None:
    code = run_all.main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    commit, _ = run_all.git_commit()
    saved = json.loads((tmp_path / f"bench-{commit}-quick.json").read_text())
    assert code == (0 if all(name in DOCUMENTS for name, _ in run_all.calls) else 1)
    assert saved["quick"] is True and saved["commit"] == commit and saved["machine"]["cpu_count"]
    pipelines = [row["pipeline"] for row in saved["rows"]]
    assert {"brain_speech", "dna_species", "audio_temporal", "heads"} <= set(pipelines)
    assert {"bench_brain", "bench_dna", "bench_binning", "bench_audio", "bench_heads"} <= {n for n, _ in run_all.calls}
    assert dict(run_all.calls)["bench_dna"] == run_all.BENCHMARKS["bench_dna"].quick_args
    binning = {row["measure"]: row for row in saved["rows"] if row["benchmark"] == "bench_binning"}
    assert binning["graph (exact) binning n=1e4: species with F1 > 0.5"]["value"] == 38
    assert binning["graph (exact) binning n=1e4: time"]["unit"] == "s"
    assert any(row["unit"] == "error" and "faiss" in row["measure"] for row in binning.values())
    lines = printed.splitlines()
    assert lines[0].split() == ["pipeline", "benchmark", "measure", "value", "unit"]
    order = [line.split()[0] for line in lines[2:] if line and line.split()[0] in run_all.PIPELINE_ORDER]
    assert order == sorted(order, key=run_all.PIPELINE_ORDER.index), "rows are grouped by pipeline"


def test_a_failed_benchmark_is_reported_and_the_others_still_run(run_all, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(DOCUMENTS, "bench_heads")
    assert run_all.main(["--out", str(tmp_path)]) == 1
    saved = json.loads(next(tmp_path.glob("bench-*.json")).read_text())
    status = {run["benchmark"]: run["status"] for run in saved["runs"]}
    assert status["bench_heads"] == "failed" and status["bench_dna"] == "ok"
    assert "boom" in next(r["error"] for r in saved["runs"] if r["benchmark"] == "bench_heads")
    assert dict(run_all.calls)["bench_heads"] == ["--world", "2"]
