"""Every registered encoder honours the shared input contract (braindecode-style).

Adapters of pretrained checkpoints are built from the tiny checkpoints of ``conftest.py``
(skipped without transformers); every one of them must have such a fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from biocl.encoders import ENCODERS
from biocl.utils.errors import BioclError

CONFTEST = Path(__file__).with_name("conftest.py")
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter")


def _outputs(out: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


def test_every_modality_has_an_encoder() -> None:
    assert {cls.modality for cls in ENCODERS.values()} >= {"brain", "dna", "audio", "text", "audio+text"}


def test_every_adapter_has_a_tiny_checkpoint() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("biocl_tests_encoders_conftest", CONFTEST)
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    adapters = {name for name, cls in ENCODERS.items() if cls.needs_checkpoint}
    assert adapters == set(conftest.CHECKPOINT_FIXTURES)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_declared_shapes_and_finite_output(name: str, tiny_encoder) -> None:
    encoder = tiny_encoder(name).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = encoder.example_inputs(batch_size=3, generator=generator)
    with torch.no_grad():
        outputs = _outputs(encoder(**inputs))
    assert len(outputs) == encoder.n_outputs
    for out in outputs:
        assert tuple(out.shape) == encoder.output_shape(3)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_eval_mode_is_deterministic(name: str, tiny_encoder) -> None:
    encoder = tiny_encoder(name).eval()
    inputs = encoder.example_inputs(batch_size=2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        first, second = _outputs(encoder(**inputs)), _outputs(encoder(**inputs))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_gradients_reach_every_trainable_parameter_group(name: str, tiny_encoder) -> None:
    encoder = tiny_encoder(name).train()
    generator = torch.Generator().manual_seed(2)
    inputs = encoder.example_inputs(batch_size=2, generator=generator)
    # A random projection: a sum of squares of L2-normalised outputs would be constant.
    loss = sum((out.float() * torch.randn(out.shape, generator=generator)).sum() for out in _outputs(encoder(**inputs)))
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters())


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_save_writes_what_savable_declares(name: str, tiny_encoder, tmp_path: Path) -> None:
    encoder = tiny_encoder(name)
    target = tmp_path / "saved"
    if encoder.savable:
        digest = encoder.save(target)
        assert len(digest) == 64 and target.exists()
    else:
        with pytest.raises(BioclError, match="cannot save"):
            encoder.save(target)
        assert not target.exists()
