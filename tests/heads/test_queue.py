"""The MoCo queue and the momentum update."""

from __future__ import annotations

import collections

import pytest
import torch
from torch import nn

from biocl.heads import functional
from biocl.heads.queue import MomentumQueue, momentum_update


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_queue_is_first_in_first_out() -> None:
    queue = MomentumQueue(dim=2, size=5)
    reference: collections.deque = collections.deque(maxlen=5)
    counter = 0
    for batch in (2, 1, 3, 4, 7, 1):
        keys = torch.arange(counter, counter + batch, dtype=torch.float32)[:, None].repeat(1, 2)
        counter += batch
        queue.enqueue(keys)
        reference.extend(keys.tolist())
        assert queue.keys().tolist() == list(reference)
        assert len(queue) == len(reference)


def test_queue_detaches_checkpoints_and_validates() -> None:
    queue = MomentumQueue(dim=3, size=4)
    queue.enqueue(_randn(2, 3).float().requires_grad_())
    assert not queue.keys().requires_grad
    restored = MomentumQueue(dim=3, size=4)
    restored.load_state_dict(queue.state_dict())
    torch.testing.assert_close(restored.keys(), queue.keys())
    with pytest.raises(ValueError, match="shape"):
        queue.enqueue(torch.zeros(2, 5))
    loss = functional.info_nce(_randn(2, 3).float(), _randn(2, 3, seed=1).float(), queue.keys())
    assert torch.isfinite(loss)


def test_momentum_update() -> None:
    online = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    target = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    online[1].num_batches_tracked.fill_(7)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    momentum_update(online, target, 1.0)
    for key, value in target.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, before[key])
    momentum_update(online, target, 0.9)
    torch.testing.assert_close(target[0].weight, 0.9 * before["0.weight"] + 0.1 * online[0].weight.detach())
    assert int(target[1].num_batches_tracked) == 7
    momentum_update(online, target, 0.0)
    for key, value in target.state_dict().items():
        torch.testing.assert_close(value, online.state_dict()[key])
    with pytest.raises(ValueError, match="different"):
        momentum_update(online, nn.Linear(3, 2), 0.5)
