"""SimpleConv: shapes, the paper's parameter count, masking, spatial dropout, subject layers."""

from __future__ import annotations

import math

import pytest
import torch

from biocl.encoders.base import ENCODERS
from biocl.encoders.brain import FourierEmbedding, SimpleConv, SpatialAttention, SubjectLayers


def test_registered_and_tiny_shapes():
    assert ENCODERS["simple_conv"] is SimpleConv
    model = SimpleConv.tiny().eval()
    inputs = model.example_inputs(3, generator=torch.Generator().manual_seed(0))
    assert model(**inputs).shape == model.output_shape(3)


def test_paper_width_parameter_count():
    # Défossez et al. 2023: about 7.6 M shared parameters and 72,900 (270 x 270) per subject.
    one = SimpleConv(n_subjects=1, output_dim=1024)
    four = SimpleConv(n_subjects=4, output_dim=1024)
    assert one.per_subject_parameter_count() == 72_900
    assert one.shared_parameter_count() == four.shared_parameter_count() == 7_596_754
    total = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert total(four) - total(one) == 3 * 72_900


def test_paper_width_forward_keeps_120hz_time_axis():
    torch.manual_seed(0)
    model = SimpleConv(n_subjects=2, output_dim=1024).eval()
    out = model(torch.randn(1, 157, 361), torch.tensor([1]), torch.rand(1, 157, 2),
                torch.ones(1, 157, dtype=torch.bool))
    assert out.shape == (1, 1024, 361)


def test_fourier_embedding_values():
    emb = FourierEmbedding(n_freqs=2, margin=0.2)
    out = emb(torch.tensor([[0.3, 0.7]], dtype=torch.float64))
    width = 1.4
    x, y = 0.5, 0.9
    expected_loc = [2 * math.pi * (fx * x + fy * y) / width for fx in range(2) for fy in range(2)]
    expected = torch.tensor([math.cos(v) for v in expected_loc] + [math.sin(v) for v in expected_loc],
                            dtype=torch.float64)
    torch.testing.assert_close(out[0], expected)


def test_masked_sensors_have_no_influence():
    layer = SpatialAttention(n_heads=4, n_freqs=3, dropout_radius=0.0)
    g = torch.Generator().manual_seed(0)
    brain = torch.randn(2, 5, 7, generator=g)
    positions = torch.rand(2, 5, 2, generator=g)
    mask = torch.tensor([[True, True, True, False, False]] * 2)
    changed = brain.clone()
    changed[:, 3:] = 1e6
    torch.testing.assert_close(layer(brain, positions, mask), layer(changed, positions, mask))


def test_spatial_dropout_is_reproducible_and_only_in_training():
    layer = SpatialAttention(n_heads=4, n_freqs=3, dropout_radius=0.3)
    g = torch.Generator().manual_seed(1)
    brain = torch.randn(1, 30, 5, generator=g)
    positions = torch.rand(1, 30, 2, generator=g)
    mask = torch.ones(1, 30, dtype=torch.bool)
    a = layer(brain, positions, mask, torch.Generator().manual_seed(5))
    b = layer(brain, positions, mask, torch.Generator().manual_seed(5))
    plain = layer(brain, positions, mask)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, plain)
    layer.eval()
    torch.testing.assert_close(layer(brain, positions, mask, torch.Generator().manual_seed(5)), plain)


def test_subject_layers_and_unseen_subject():
    layers = SubjectLayers(3, 2, shared=True)
    x = torch.randn(3, 3, 4)
    out = layers(x, torch.tensor([0, 1, -1]))
    for row, index in enumerate([0, 1, 2]):
        torch.testing.assert_close(out[row], layers.weights[index].T @ x[row])
    with pytest.raises(ValueError, match="shared subject layer"):
        SubjectLayers(3, 2)(x, torch.tensor([0, 1, -1]))
    model = SimpleConv(n_subjects=2, output_dim=4, n_heads=6, hidden=8, n_blocks=1, n_freqs=3,
                       unseen_subject=True).eval()
    inputs = model.example_inputs(2)
    inputs["subjects"] = torch.tensor([-1, -1])
    assert model(**inputs).shape == (2, 4, 61)


def test_gradients_reach_every_parameter():
    model = SimpleConv.tiny().train()
    inputs = model.example_inputs(4, generator=torch.Generator().manual_seed(0))
    inputs["subjects"] = torch.tensor([0, 1, 0, 1])
    model(**inputs, generator=torch.Generator().manual_seed(0)).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
