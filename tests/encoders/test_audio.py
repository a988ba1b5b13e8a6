"""The compact audio encoder: registered, its declared shapes, order awareness, level invariance."""

from __future__ import annotations

import numpy as np
import torch

from biocl.encoders.audio import LogMelCNN
from biocl.encoders.base import ENCODERS


def test_registered_with_its_declared_shapes() -> None:
    assert ENCODERS["logmel_cnn"] is LogMelCNN
    encoder = LogMelCNN.tiny().eval()
    out = encoder(**encoder.example_inputs(3, generator=torch.Generator().manual_seed(0)))
    assert out.shape == encoder.output_shape(3)


def test_audio_encoder_sees_order_and_ignores_level() -> None:
    encoder = LogMelCNN.tiny().eval()
    rng = np.random.default_rng(1)
    t = np.arange(2000) / 8000
    a = np.sin(2 * np.pi * 300 * t).astype(np.float32)
    b = (0.5 * rng.standard_normal(2000)).astype(np.float32)
    with torch.no_grad():
        ab = encoder(torch.from_numpy(np.concatenate([a, b])[None]))
        ba = encoder(torch.from_numpy(np.concatenate([b, a])[None]))
        loud = encoder(torch.from_numpy(4 * np.concatenate([a, b])[None]))
    assert not torch.allclose(ab, ba, atol=1e-4)
    torch.testing.assert_close(ab, loud, atol=2e-2, rtol=0)  # only the 1e-6 floor of the log differs
