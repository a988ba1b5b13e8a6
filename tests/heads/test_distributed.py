"""The distributed helpers without a process group (the parity test runs them with 1, 2 and 4)."""

from __future__ import annotations

import torch

from biocl.heads.distributed import (gather_no_grad, gather_with_grad, offset_local_index, rank_offset_labels,
                                     world_info)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_distributed_helpers_are_identities_in_one_process() -> None:
    x = _randn(3, 2).requires_grad_()
    assert world_info() == (0, 1)
    assert gather_with_grad(x) is x
    assert not gather_no_grad(x).requires_grad
    assert rank_offset_labels(3, rank=2).tolist() == [6, 7, 8]
    assert rank_offset_labels(4).tolist() == [0, 1, 2, 3]
    assert offset_local_index(torch.tensor([1, -1, 0]), 3, rank=1).tolist() == [4, -1, 3]
