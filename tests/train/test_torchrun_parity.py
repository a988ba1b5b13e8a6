"""``torchrun --nproc_per_node=2`` (gloo, CPU) trains the toy model to what one process trains."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from biocl.protocols.base import TrainConfig
from biocl.train import Trainer
from biocl.train.checkpoint import load_state
from biocl.utils.weights import read_weights

TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside the interpreter")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_processes_match_one_process(toy, tmp_path: Path, optimizer: str) -> None:
    run_dir = tmp_path / "run"
    done = toy.run_torchrun([str(run_dir), "--epochs", "1,1", "--optimizer", optimizer, "--last-trainable", "2."])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 0: 8 steps" in done.stderr and "rank 1: 8 steps" in done.stderr
    assert "terminate called" not in done.stderr, done.stderr[-3000:]

    config = TrainConfig(optimizer=optimizer, lr=0.01, schedule="cosine", device="cpu")
    single = toy.make_model()
    phases = toy.default_phases([1, 1], last_trainable=["2."])  # DDP is rebuilt with only the head
    result = Trainer(single, config, run=None, seed=0).fit(toy.phase_specs(phases))
    distributed = read_weights(run_dir / "checkpoints" / "last.safetensors")
    for name, tensor in toy.make_model().state_dict().items():
        assert not torch.equal(distributed[name], tensor), f"{name} never trained"
    best = read_weights(run_dir / "checkpoints" / "best-p1.safetensors")
    for name, tensor in single.state_dict().items():
        torch.testing.assert_close(best[name], tensor, rtol=0, atol=1e-6)
    state = load_state(run_dir / "checkpoints" / "last.state.pt")
    assert state["world_size"] == 2 and state["global_step"] == result.steps == 8
    for ddp_record, record in zip(state["history"], result.history, strict=True):
        assert ddp_record["train_loss"] == pytest.approx(record["train_loss"], abs=1e-6)
        assert ddp_record["mse"] == pytest.approx(record["mse"], abs=1e-6)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "best-p0.safetensors", "best-p1.safetensors", "last.safetensors", "last.state.pt"]
