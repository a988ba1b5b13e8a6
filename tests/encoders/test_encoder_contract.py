"""Every registered encoder honours the shared input contract (braindecode-style)."""

from __future__ import annotations

import pytest
import torch

from biocl.encoders import ENCODERS


def test_every_modality_has_an_encoder() -> None:
    assert {cls.modality for cls in ENCODERS.values()} >= {"brain", "dna", "audio", "text"}


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_declared_shapes_and_finite_output(name: str) -> None:
    encoder = ENCODERS[name].tiny().eval()
    generator = torch.Generator().manual_seed(0)
    inputs = encoder.example_inputs(batch_size=3, generator=generator)
    with torch.no_grad():
        out = encoder(**inputs)
    assert tuple(out.shape) == encoder.output_shape(3)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_eval_mode_is_deterministic(name: str) -> None:
    encoder = ENCODERS[name].tiny().eval()
    inputs = encoder.example_inputs(batch_size=2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(encoder(**inputs), encoder(**inputs))


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_gradients_reach_every_trainable_parameter_group(name: str) -> None:
    encoder = ENCODERS[name].tiny().train()
    inputs = encoder.example_inputs(batch_size=2, generator=torch.Generator().manual_seed(2))
    encoder(**inputs).float().pow(2).mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters())
