"""Fault injection: SIGKILL during checkpoint writes, a run folder in use, a killed run resumed.

The trainer-level kill-and-resume test (SIGKILL mid-training, resume, bit-identical
parameters) lives in ``tests/train/test_kill_resume.py``; the tests here add the file level
(kills that land inside a write) and the command line (lock refusal, ``biocl run --resume``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from biocl.protocols.base import load_protocol
from biocl.pipelines.runs import RunContext
from biocl.train.checkpoint import recover_checkpoint
from biocl.utils.weights import read_weights

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WRITER = HERE / "checkpoint_writer.py"
BIOCL = Path(sys.executable).parent / "biocl"
KILL_ROUNDS = 6
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "BIOCL_QUIET": "1", "BIOCL_CHROMIUM": "/nonexistent/chromium"}


def _iteration_of(weights: dict[str, torch.Tensor]) -> int:
    """The iteration a checkpoint of checkpoint_writer.py was written at (every value equals it)."""
    values = torch.cat([tensor.flatten() for tensor in weights.values()]).unique()
    assert values.numel() == 1, f"weights of several iterations mixed in one file: {values[:5].tolist()}"
    return int(values.item())


def test_sigkill_during_checkpoint_writes_leaves_the_last_commit_loadable(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    committed, interrupted_writes = -1, 0
    writer = subprocess.Popen([sys.executable, str(WRITER), str(folder), str(KILL_ROUNDS), "7"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=ENV)
    try:
        for _ in range(KILL_ROUNDS):
            report = writer.stdout.readline().strip()
            assert report == "killed", (report, writer.stderr.read() if writer.poll() is not None else "")
            interrupted_writes += bool([*folder.glob(".*.tmp"), *folder.glob("*.pending")])

            # Before any recovery, the files are loadable as they are, without unpickling code.
            state = torch.load(folder / "last.state.pt", weights_only=True)
            on_disk = _iteration_of(load_file(str(folder / "last.safetensors")))
            assert on_disk in (state["iteration"], state["iteration"] - 1)  # the kill may fall between renames
            assert state["iteration"] > committed, "a restarted writer never goes backwards"

            recovered = recover_checkpoint(folder, "last.state.pt")
            assert recovered["iteration"] == state["iteration"]
            assert _iteration_of(read_weights(folder / "last.safetensors")) == recovered["iteration"]
            assert not [*folder.glob(".*.tmp"), *folder.glob("*.pending")], "recovery leaves no stray file"
            committed = recovered["iteration"]
            writer.stdin.write("next\n")
            writer.stdin.flush()
        assert writer.wait(timeout=60) == 0, writer.stderr.read()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        for stream in (writer.stdin, writer.stdout, writer.stderr):
            stream.close()
    # Printed for the record: how many kills landed inside a write (most do; the writer never rests).
    print(f"\n{KILL_ROUNDS} kills, {interrupted_writes} inside a write, last committed iteration {committed}")


_HOLDER = textwrap.dedent("""
    import sys, time
    from biocl.protocols.base import load_protocol
    from biocl.pipelines.runs import RunContext
    with RunContext(sys.argv[1], load_protocol(sys.argv[2])):
        print("holding", flush=True)
        time.sleep(120)
""")


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    return lines[0]


def test_a_second_run_into_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    protocol = REPO / "protocols" / "dna_species_quick.yaml"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run_dir), str(protocol)],
                              stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert holder.stdout.readline().strip() == "holding"
        before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
        commands = [[str(BIOCL), "run", str(protocol), "--out", str(run_dir)],
                    [str(BIOCL), "run", str(protocol), "--resume", str(run_dir)]]
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda c: subprocess.run(c, capture_output=True, text=True, env=ENV,
                                                             timeout=300), commands))
        for done in results:
            line = _one_line_error(done)
            assert f"in use by process {holder.pid}" in line and str(run_dir) in line, line
        assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before, "the refused run wrote files"
        assert (run_dir / ".lock").read_text() == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    # The holder died without removing its lock: the next run takes the stale lock over.
    with RunContext(run_dir, load_protocol(protocol), resume=True):
        assert (run_dir / ".lock").read_text() == str(os.getpid())
    assert not (run_dir / ".lock").exists()


# Small enough for a 2-core machine: 8 simulated species, 4-step phases, a 16-wide encoder.
TINY_DNA = ["data.n_species=8", "data.genome_bp=30000", "data.contigs_per_genome=12", "data.n_calibration_species=2",
            "data.n_eval_species=3", "data.window_bp=4000", "data.segment_bp=1000",
            "train.phases.0.max_steps_per_epoch=4", "train.phases.1.max_steps_per_epoch=4", "train.phases.1.epochs=2",
            "train.threads=1", "evaluate.kmeans_seeds=1", "evaluate.shots=[1,2]", "evaluate.n_test=4",
            "evaluate.few_shot_seeds=1", "evaluate.n_permutations=50", "evaluate.min_bin_size=2",
            "evaluate.graph_k=5", "model.dim=16", "model.n_blocks=1",
            # 8 species leave no room for validation species; these budgets assume a one-epoch phase I.
            "data.n_validation_species=0", "train.phases.0.epochs=1"]


def _biocl_run(*args: str) -> list[str]:
    command = [str(BIOCL), "--quiet", "run", "dna_species_quick", *args]
    for pair in TINY_DNA:
        command += ["--set", pair]
    return command


def test_biocl_run_killed_at_a_random_moment_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    env = {**ENV, "BIOCL_CACHE": str(tmp_path / "cache")}
    reference = subprocess.run(_biocl_run("--out", str(tmp_path / "reference")),
                               capture_output=True, text=True, env=env, timeout=600)
    assert reference.returncode == 0, reference.stderr[-3000:]
    rng = np.random.default_rng(3)
    run_dir = tmp_path / "killed"
    victim = subprocess.Popen(_biocl_run("--out", str(run_dir)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env)
    # Kill once training has started: after the first metrics record, at a random later moment.
    deadline = time.monotonic() + 300
    while not (run_dir / "metrics.jsonl").exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(rng.uniform(0.0, 2.0))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    if victim.returncode == 0:
        pytest.skip("the run finished before the kill landed")
    resumed = subprocess.run(_biocl_run("--resume", str(run_dir)), capture_output=True,
                             text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected = json.loads((tmp_path / "reference" / "results.json").read_text())
    got = json.loads((run_dir / "results.json").read_text())
    assert got["metrics"] == pytest.approx(expected["metrics"], rel=1e-6, abs=1e-9)
