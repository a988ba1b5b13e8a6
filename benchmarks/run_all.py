"""Run every ``benchmarks/bench_*.py``, print one table across the pipelines and save it as JSON.

Usage::

    python benchmarks/run_all.py [--quick] [--only audio,dna] [--out bench_results]

Each benchmark runs in its own process with ``--json`` (one thread unless it says
otherwise); its rows become lines of one table ``pipeline | benchmark | measure | value |
unit`` (throughputs of the three pipelines and the shared heads, the binning scale). The
table and the machine's state (git commit, load average, cores, versions) are written to
``bench_results/bench-<git short sha>.json``, so two commits compare with
``diff <(jq .rows a.json) <(jq .rows b.json)`` or a few lines of Python. ``--quick`` passes
small sizes so the whole run takes a few minutes on 2 CPU cores; its numbers are noisier
and are marked ``"quick": true``.

Throughputs fall with other load on the machine: the load average before and after the
run is stored beside the numbers. A benchmark that fails is reported with the end of its
error output, the others still run, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

Row = dict[str, Any]  # {"pipeline", "benchmark", "measure", "value", "unit"}


@dataclass
class Benchmark:
    """How to run one bench script and read its JSON into table rows."""

    pipeline: str
    full_args: list[str]
    quick_args: list[str]
    rows: Callable[[dict[str, Any]], list[Row]]
    timeout_s: float = 3600.0
    notes: list[str] = field(default_factory=list)


def _row(pipeline: str, benchmark: str, measure: str, value: Any, unit: str) -> Row:
    number = float(value) if isinstance(value, (int, float)) and value is not None else float("nan")
    return {"pipeline": pipeline, "benchmark": benchmark, "measure": measure, "value": number, "unit": unit}


def _audio_rows(doc: dict[str, Any]) -> list[Row]:
    return [_row("audio_temporal", "bench_audio", f"audio encoder {r['mode']}, {r['clip_s']:g} s clips, "
                 f"batch {r['batch_size']}", r["clips_per_s"], "clips/s") for r in doc["rows"]]


def _dna_rows(doc: dict[str, Any]) -> list[Row]:
    return [_row("dna_species", "bench_dna", f"embed {r['features']}, {doc['length_bp']} bp",
                 r["sequences_per_s"], "sequences/s") for r in doc["rows"]]


def _binning_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for r in doc["rows"]:
        case = r["case"]
        if "error" in r:
            rows.append(_row("dna_species", "bench_binning", f"{case} n={r.get('n')}: {r['error'][0]}", None, "error"))
            continue
        if case.startswith("tnf:"):
            rows.append(_row("dna_species", "bench_binning", f"{case[4:]} features, {r['length_bp']} bp",
                             r["sequences_per_s"], "sequences/s"))
            continue
        label = f"{case} binning n={r['n']:.0e}".replace("e+0", "e")
        rows.append(_row("dna_species", "bench_binning", f"{label}: time", r.get("total_s"), "s"))
        rows.append(_row("dna_species", "bench_binning", f"{label}: peak memory", r.get("peak_rss_mb"), "MB"))
        if "n_f1_above_0_5" in r:
            rows.append(_row("dna_species", "bench_binning", f"{label}: species with F1 > 0.5",
                             r["n_f1_above_0_5"], "species"))
        if "ari_vs_truth" in r:
            rows.append(_row("dna_species", "bench_binning", f"{label}: ARI vs truth", r["ari_vs_truth"], "ARI"))
    return rows


def _brain_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for r in doc["rows"]:
        if "windows_per_s" in r:
            rows.append(_row("brain_speech", "bench_brain", r["measure"], r["windows_per_s"], "windows/s"))
        else:
            rows.append(_row("brain_speech", "bench_brain", r["measure"], r["ms"], "ms"))
    return rows


def _brain_vs_brainmagick_rows(doc: dict[str, Any]) -> list[Row]:
    if doc.get("skipped"):
        return [_row("brain_speech", "bench_brain_vs_brainmagick", f"skipped: {doc['skipped']}", None, "")]
    return [_row("brain_speech", "bench_brain_vs_brainmagick", r["measure"], r.get("windows_per_s", r.get("ratio")),
                 "windows/s" if "windows_per_s" in r else "x") for r in doc["rows"]]


def _heads_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for r in doc["rows"]:
        for key, value in r.items():
            if key.startswith("ms_"):
                processes = key[3:].replace("_", " ")
                rows.append(_row("heads", "bench_heads", f"{r['loss']}, batch {r['batch']}, {processes}",
                                 value, "ms/step"))
    return rows


BENCHMARKS: dict[str, Benchmark] = {
    "bench_brain": Benchmark("brain_speech", ["--steps", "3"], ["--steps", "1"], _brain_rows),
    # needs BRAINMAGICK_DIR (a brainmagick checkout); without it, one "skipped" row
    "bench_brain_vs_brainmagick": Benchmark("brain_speech", ["--bf16"], ["--width", "quick", "--rounds", "3"],
                                            _brain_vs_brainmagick_rows),
    "bench_dna": Benchmark("dna_species", ["--threads", "1"], ["--threads", "1", "--n", "8", "--repeats", "1"],
                           _dna_rows),
    "bench_binning": Benchmark("dna_species", [], ["--max-n", "10000", "--knn-backends", "exact"], _binning_rows,
                               notes=["the quick run bins 10^4 sequences only; the full run goes to 10^6"]),
    "bench_audio": Benchmark("audio_temporal", [], ["--clip-s", "1", "--batch-size", "16", "--repeats", "1"],
                             _audio_rows),
    "bench_heads": Benchmark("heads", ["--world", "2"], ["--repeats", "2"], _heads_rows),
}


def _generic_rows(name: str, doc: dict[str, Any]) -> list[Row]:
    """Rows of a benchmark run_all does not know yet: every number of every row, labelled by its text fields."""
    rows = []
    for r in doc.get("rows", []):
        label = ", ".join(str(v) for v in r.values() if isinstance(v, str)) or name
        for key, value in r.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                rows.append(_row("other", name, f"{label}: {key}", value, ""))
    return rows


def git_commit() -> tuple[str, bool]:
    """The short commit hash of the checkout and whether tracked files differ from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    return git("rev-parse", "--short", "HEAD") or "unknown", bool(git("status", "--porcelain", "--untracked-files=no"))


def run_benchmark(script: Path, args: list[str], timeout_s: float) -> tuple[dict[str, Any] | None, float, str]:
    """Run one script with ``--json``; return its document (None on failure), wall seconds and error text."""
    with tempfile.TemporaryDirectory(prefix="biocl-bench-") as folder:
        out = Path(folder) / "result.json"
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "BIOCL_QUIET": "1"}
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, str(script), *args, "--json", str(out)], capture_output=True,
                                  text=True, env=env, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return None, time.perf_counter() - started, f"timed out after {timeout_s:.0f} s"
        wall_s = time.perf_counter() - started
        if done.returncode != 0 or not out.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return None, wall_s, " | ".join(tail) or f"exit code {done.returncode}, no JSON written"
        return json.loads(out.read_text(encoding="utf-8")), wall_s, ""


PIPELINE_ORDER = ("brain_speech", "dna_species", "audio_temporal", "heads")


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table, grouped by pipeline (in the order of :data:`PIPELINE_ORDER`)."""
    header = ("pipeline", "benchmark", "measure", "value", "unit")
    ordered = sorted(rows, key=lambda r: PIPELINE_ORDER.index(r["pipeline"]) if r["pipeline"] in PIPELINE_ORDER
                     else len(PIPELINE_ORDER))
    cells = [header] + [(r["pipeline"], r["benchmark"], r["measure"], _number(r["value"]), r["unit"])
                        for r in ordered]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = []
    for index, cell in enumerate(cells):
        lines.append("  ".join(text.rjust(w) if i == 3 else text.ljust(w)
                               for i, (text, w) in enumerate(zip(cell, widths, strict=True))).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value == int(value) and abs(value) < 1e6:
        return f"{value:,.0f}"
    if value == 0 or 0.01 <= abs(value) < 1e6:
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:.3g}"


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes on 2 CPU cores")
    parser.add_argument("--only", default="", help="comma-separated names (bench_dna or dna) to run")
    parser.add_argument("--out", type=Path, default=REPO / "bench_results", help="folder of the JSON results")
    args = parser.parse_args(argv)

    scripts = sorted(HERE.glob("bench_*.py"))
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in args.only.split(",") if name}
    if wanted:
        unknown = wanted - {s.stem for s in scripts}
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        scripts = [s for s in scripts if s.stem in wanted]
    commit, dirty = git_commit()
    load_before = _load()
    rows: list[Row] = []
    runs: list[dict[str, Any]] = []
    for script in scripts:
        spec = BENCHMARKS.get(script.stem)
        bench_args = (spec.quick_args if args.quick else spec.full_args) if spec else []
        print(f"running {script.name} {' '.join(bench_args)}".rstrip(), file=sys.stderr, flush=True)
        doc, wall_s, error = run_benchmark(script, bench_args, spec.timeout_s if spec else 3600.0)
        runs.append({"benchmark": script.stem, "args": bench_args, "wall_s": round(wall_s, 2),
                     "status": "ok" if doc is not None else "failed", "error": error or None,
                     "notes": spec.notes if spec else ["not described in run_all.py: generic rows"],
                     "result": doc})
        if doc is None:
            print(f"  {script.name} failed: {error}", file=sys.stderr)
            continue
        rows.extend(spec.rows(doc) if spec else _generic_rows(script.stem, doc))

    document = {
        "commit": commit, "dirty": dirty, "quick": args.quick,
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": load_before, "load_average_after": _load()},
        "rows": rows, "runs": runs,
    }
    sys.path.insert(0, str(REPO))
    from biocl.utils.io import write_json

    path = write_json(args.out / f"bench-{commit}{'-quick' if args.quick else ''}.json", document)
    print(format_table(rows))
    print(f"\ncommit {commit}{' (uncommitted changes)' if dirty else ''}, load average "
          f"{load_before if load_before is None else round(load_before, 1)} on {os.cpu_count()} cores; "
          f"written to {path}")
    failed = [r["benchmark"] for r in runs if r["status"] != "ok"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
