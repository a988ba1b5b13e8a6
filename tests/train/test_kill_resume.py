"""Kill a training process with SIGKILL mid-run, resume it, and get the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from biocl.protocols.base import TrainConfig
from biocl.pipelines.runs import RunContext
from biocl.train import Trainer
from biocl.train.checkpoint import load_state
from biocl.utils.weights import read_weights

TOY_SCRIPT = Path(__file__).with_name("toy_training.py")
EPOCHS = "3,3"  # two phases; the second starts from the first one's best checkpoint


def _epochs_committed(state_path: Path) -> int:
    try:
        return len(load_state(state_path)["history"])
    except Exception:  # absent, or being replaced right now: ask again
        return 0


def test_sigkill_then_resume_ends_with_the_uninterrupted_parameters(toy, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    state_path = run_dir / "checkpoints" / "last.state.pt"
    process = subprocess.Popen([sys.executable, str(TOY_SCRIPT), str(run_dir), "--epochs", EPOCHS,
                                "--sleep-s", "0.05", "--noise", "0.1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "BIOCL_QUIET": "1", "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while _epochs_committed(state_path) < 2:
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline, "the training process never committed two epochs"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = load_state(state_path)
    assert 2 <= len(killed_at["history"]) < 6, "the kill came after the run had finished"
    assert (run_dir / ".lock").exists()  # left by the killed process, taken over below

    config = TrainConfig(optimizer="adam", lr=0.01, schedule="cosine", device="cpu")
    phases = toy.default_phases([int(n) for n in EPOCHS.split(",")])
    with RunContext(run_dir, toy.make_protocol(config), resume=True) as run:
        resumed = toy.make_model()
        result = Trainer(resumed, config, run=run, seed=0).fit(toy.phase_specs(phases, noise=0.1))
        records = run.read_metrics()
    reference = toy.make_model()
    reference_result = Trainer(reference, config, run=None, seed=0).fit(toy.phase_specs(phases, noise=0.1))

    for name, tensor in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name
    assert result.steps == reference_result.steps
    assert [r["train_loss"] for r in result.history] == [r["train_loss"] for r in reference_result.history]
    assert [(r["phase"], r["epoch"]) for r in records] == [(f"p{p}", e) for p in range(2) for e in range(3)]
    final = read_weights(run_dir / "checkpoints" / "best-p1.safetensors")
    for name, tensor in reference.state_dict().items():
        assert torch.equal(final[name], tensor), name
    assert not list((run_dir / "checkpoints").glob("*.pending"))

