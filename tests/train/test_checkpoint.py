"""Checkpoint files: weights_only states, atomic writes, commit and recovery, resume checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from biocl.train import checkpoint
from biocl.train.checkpoint import (check_resumable, commit_checkpoint, drop_uncommitted_records, load_state,
                                    recover_checkpoint, save_state)
from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_file
from biocl.utils.weights import load_weights, save_weights


def _mlp(seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))
    return model


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_state_round_trip_loads_with_weights_only(tmp_path: Path) -> None:
    model = _mlp(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    state = {"optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(), "epoch": 3,
             "best": None, "history": [{"loss": 0.5, "phase": "a"}], "nested": (1, 2.0)}
    save_state(state, tmp_path / "s.pt")
    again = torch.load(tmp_path / "s.pt", weights_only=True)
    assert again["epoch"] == 3 and again["history"] == [{"loss": 0.5, "phase": "a"}]
    fresh = torch.optim.Adam(_mlp(0).parameters(), lr=0.1)
    fresh.load_state_dict(load_state(tmp_path / "s.pt")["optimizer"])
    assert torch.equal(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])


def test_state_refuses_objects_weights_only_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"state\['where'\] is a PosixPath"):
        save_state({"where": tmp_path}, tmp_path / "s.pt")
    assert not (tmp_path / "s.pt").exists()
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(BioclError, match="not a biocl training state") as refused:
        load_state(tmp_path / "junk.pt")
    assert "weights_only" not in str(refused.value)


def test_interrupted_rename_keeps_the_previous_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights, state = tmp_path / "w.safetensors", tmp_path / "s.pt"
    save_weights(_mlp(0), weights)
    save_state({"epoch": 1}, state)

    def fail(*args: object) -> None:
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk vanished"):
        save_weights(_mlp(1), weights)
    with pytest.raises(OSError, match="disk vanished"):
        save_state({"epoch": 2}, state)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.pt", "w.safetensors"]
    model = _mlp(5)
    load_weights(model, weights)
    assert _same(model, _mlp(0))
    assert load_state(state)["epoch"] == 1


def test_commit_then_recover_finishes_an_interrupted_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = commit_checkpoint(tmp_path, "last.state.pt", {"epoch": 1}, {"last.safetensors": _mlp(0)})
    assert files == {"last.safetensors": sha256_file(tmp_path / "last.safetensors")}

    # A kill right after the state was renamed: the new weights are still pending.
    real_replace = os.replace

    def replace_state_only(src: object, dst: object) -> None:
        if str(dst).endswith(".safetensors"):
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", replace_state_only)
    with pytest.raises(KeyboardInterrupt):
        commit_checkpoint(tmp_path, "last.state.pt", {"epoch": 2, "files": files}, {"last.safetensors": _mlp(1)})
    monkeypatch.undo()
    assert (tmp_path / "last.safetensors.pending").exists()
    (tmp_path / ".last.safetensors.pending.abc.tmp").write_bytes(b"half")  # a kill mid-write

    state = recover_checkpoint(tmp_path, "last.state.pt")
    assert state["epoch"] == 2
    model = _mlp(7)
    load_weights(model, tmp_path / "last.safetensors")
    assert _same(model, _mlp(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.safetensors", "last.state.pt"]


def test_recover_drops_uncommitted_weights_and_rejects_altered_files(tmp_path: Path) -> None:
    assert recover_checkpoint(tmp_path, "last.state.pt") is None
    commit_checkpoint(tmp_path, "last.state.pt", {"epoch": 1}, {"last.safetensors": _mlp(0)})
    # A kill before the state was renamed: the pending weights were never committed.
    save_weights(_mlp(1), tmp_path / "last.safetensors.pending")
    assert recover_checkpoint(tmp_path, "last.state.pt")["epoch"] == 1
    model = _mlp(7)
    load_weights(model, tmp_path / "last.safetensors")
    assert _same(model, _mlp(0))
    assert not (tmp_path / "last.safetensors.pending").exists()

    save_weights(_mlp(2), tmp_path / "last.safetensors")
    with pytest.raises(BioclError, match="does not match the training state"):
        recover_checkpoint(tmp_path, "last.state.pt")


def test_records_logged_after_the_last_commit_are_dropped(tmp_path: Path) -> None:
    epoch = [{"scope": "epoch", "phase": "a", "epoch": e, "step": 4 * (e + 1)} for e in range(3)]
    steps = [{"scope": "step", "phase": "a", "epoch": 2, "step": s} for s in (9, 10)]
    other = {"event": "pipeline note"}
    lines = [json.dumps(r) for r in (epoch[0], epoch[1], other, steps[0], steps[1], epoch[2])]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(lines) + '\n{"torn', encoding="utf-8")
    drop_uncommitted_records(metrics, {"history": epoch[:2], "global_step": 9})
    assert [json.loads(line) for line in metrics.read_text().splitlines()] == [epoch[0], epoch[1], other, steps[0]]


def test_resume_refuses_a_state_of_another_run(tmp_path: Path) -> None:
    state = {"format": checkpoint.STATE_FORMAT, "seed": 0, "phase_names": ["a"], "world_size": 2, "rng": [{}]}
    check_resumable(state, tmp_path, seed=0, phase_names=["a"], world_size=2)
    with pytest.raises(BioclError, match="seed 0 and phases"):
        check_resumable(state, tmp_path, seed=1, phase_names=["a"], world_size=2)
    with pytest.raises(BioclError, match="mid-epoch with 2 processes"):
        check_resumable(state, tmp_path, seed=0, phase_names=["a"], world_size=1)
    check_resumable({**state, "rng": []}, tmp_path, seed=0, phase_names=["a"], world_size=1)
