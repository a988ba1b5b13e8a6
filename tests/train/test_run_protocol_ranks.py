"""run_protocol's process-group handling: one process creates none; torchrun ranks share rank 0's folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch.distributed as dist

from biocl import pipelines
from biocl.protocols.base import TrainConfig

TORCHRUN = Path(sys.executable).with_name("torchrun")


def test_single_process_run_creates_no_group(toy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipelines, "PIPELINES", dict(pipelines.PIPELINES))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    toy.install_toy_pipeline([1])
    run_dir, results = pipelines.run_protocol(toy.make_protocol(TrainConfig(lr=0.01, device="cpu")),
                                              tmp_path / "run", report=False)
    assert not dist.is_initialized()
    assert results["steps"] == 4 and (run_dir / "results.json").is_file()
    assert (run_dir / "checkpoints" / "best-p0.safetensors").is_file()


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed beside the interpreter")
def test_torchrun_ranks_write_one_default_run_folder(toy, tmp_path: Path) -> None:
    done = toy.run_torchrun(["-", "--epochs", "1", "--via-run-protocol"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "terminate called" not in done.stderr, done.stderr[-3000:]
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and done.stderr.count(f"{folders[0].relative_to(tmp_path)}: 4 steps") == 2
    assert sorted(p.name for p in folders[0].iterdir()) == ["checkpoints", "metrics.jsonl",
                                                           "protocol.resolved.yaml", "results.json", "run.log"]
