"""Run folders: their lock, no overwriting a finished run, and torn metrics lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from biocl.pipelines.runs import RunContext
from biocl.utils.errors import BioclError


class _FakeProtocol:
    sha256 = "0" * 64

    def model_dump(self, mode: str = "json") -> dict:
        return {"name": "toy"}


def test_run_lock_refuses_a_second_writer(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with RunContext(run_dir, _FakeProtocol()) as run:  # type: ignore[arg-type]
        assert (run_dir / ".lock").read_text() == str(os.getpid())
        run.log_metrics({"epoch": 0, "loss": 1.0})
        with pytest.raises(BioclError, match="in use by process"):
            RunContext(run_dir, _FakeProtocol(), resume=True).__enter__()  # type: ignore[arg-type]
    assert not (run_dir / ".lock").exists()
    assert (run_dir / "protocol.resolved.yaml").read_text().startswith("# sha256")


def test_run_folder_with_a_run_is_not_overwritten(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    with RunContext(run_dir, _FakeProtocol()) as run:  # type: ignore[arg-type]
        run.log_metrics({"epoch": 0})
    with pytest.raises(BioclError, match="already holds a run"):
        RunContext(run_dir, _FakeProtocol()).__enter__()  # type: ignore[arg-type]


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run_dir / ".lock").write_text(dead.stdout.strip())
    with RunContext(run_dir, _FakeProtocol(), resume=True):  # type: ignore[arg-type]
        assert (run_dir / ".lock").read_text() == str(os.getpid())


def test_torn_metrics_line_is_skipped(tmp_path: Path) -> None:
    with RunContext(tmp_path / "run", _FakeProtocol()) as run:  # type: ignore[arg-type]
        run.log_metrics({"epoch": 0})
        with open(run.run_dir / "metrics.jsonl", "a") as handle:
            handle.write('{"epoch": 1, "lo')
        assert run.read_metrics() == [{"epoch": 0}]
