"""The trainer keeps every learnable logit scale in [0, ln 100] after each optimiser step (issue #12)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from biocl.heads.losses import LogitScale
from biocl.protocols.base import Phase, TrainConfig
from biocl.train.specs import PhaseSpec
from biocl.train.trainer import Trainer


class _ScaledModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.scale = LogitScale()


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_a_huge_gradient_cannot_push_the_raw_scale_out_of_range(direction: float) -> None:
    model = _ScaledModel()

    def step(m: nn.Module, batch: torch.Tensor, ctx) -> tuple[torch.Tensor, dict]:
        # The raw parameter, not the clamped forward value: its gradient is huge at every step.
        return -direction * 1e6 * m.scale.log_scale + m.weight.sum() * batch.sum(), {}

    config = TrainConfig(optimizer="sgd", lr=1.0, epochs=1, device="cpu", bf16=False)
    phase = Phase(name="toy", epochs=1)
    spec = PhaseSpec(phase=phase, step=step, batches=lambda ctx: [torch.ones(2)] * 3)
    Trainer(model, config, run=None, seed=0).fit([spec])
    raw = float(model.scale.log_scale.detach())
    assert 0.0 <= raw <= math.log(100) + 1e-6
    assert raw == pytest.approx(math.log(100) if direction > 0 else 0.0)
