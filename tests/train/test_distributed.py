"""Process-group helpers outside torchrun: one process, no group, every helper a no-op."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from biocl.train import distributed


def test_single_process_needs_no_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.init_from_env("cpu") == (0, 1, 0)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.init_from_env("auto") == (0, 1, 0)
    assert not dist.is_initialized()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    distributed.barrier()
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert distributed.all_gather_object(3) == [3]
    assert distributed.all_reduce_sum([1, 2.5], torch.device("cpu")) == [1.0, 2.5]
    distributed.destroy(synchronize=True)
