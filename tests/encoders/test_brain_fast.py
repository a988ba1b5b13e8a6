"""SimpleConv's fast paths against the plain ones: same outputs and same gradients.

The spatial attention computes its softmax weights once per distinct sensor layout of a
batch (``share_layouts``) instead of once per window, and SimpleConv then folds the initial
1x1 conv and the subject layer into one matrix per (layout, subject) pair; the plain path
is kept and these tests hold the two together.
"""

from __future__ import annotations

import copy

import pytest
import torch

from biocl.encoders.brain import SimpleConv, SpatialAttention


def _batch(layouts: list[int], n_channels: int = 9, n_times: int = 13, seed: int = 0):
    """Windows whose layout is ``layouts[i]`` (equal numbers share positions and mask)."""
    g = torch.Generator().manual_seed(seed)
    distinct = max(layouts) + 1
    positions = torch.rand(distinct, n_channels, 2, generator=g, dtype=torch.float64)
    masks = torch.rand(distinct, n_channels, generator=g) > 0.2
    index = torch.tensor(layouts)
    brain = torch.randn(len(layouts), n_channels, n_times, generator=g, dtype=torch.float64)
    return brain, positions[index], masks[index]


def _outputs_and_grads(module, fast: bool, *args, **kwargs):
    module = copy.deepcopy(module)
    for layer in module.modules():
        if isinstance(layer, SpatialAttention):
            layer.share_layouts = fast
    args = [a.clone().requires_grad_(True) if torch.is_tensor(a) and a.is_floating_point() else a for a in args]
    out = module(*args, **kwargs)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)
    (out * weights).sum().backward()
    grads = {name: p.grad for name, p in module.named_parameters()}
    grads["input"] = args[0].grad
    return out, grads


@pytest.mark.parametrize("layouts", [[0, 0, 0, 0], [0, 1, 0, 1, 1], [0, 1, 2], [1, 0, 0]])
@pytest.mark.parametrize("training", [False, True])
def test_shared_layout_weights_equal_per_window_weights(layouts, training):
    layer = SpatialAttention(n_heads=5, n_freqs=3, dropout_radius=0.3).double().train(training)
    brain, positions, mask = _batch(layouts)
    results = [_outputs_and_grads(layer, fast, brain, positions, mask, generator=torch.Generator().manual_seed(4))
               for fast in (False, True)]
    (plain, plain_grads), (fast, fast_grads) = results
    torch.testing.assert_close(fast, plain)
    assert plain_grads.keys() == fast_grads.keys()
    for name in plain_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], msg=name)


def test_fully_masked_padding_window_stays_zero_on_the_fast_path():
    layer = SpatialAttention(n_heads=4, n_freqs=3, dropout_radius=0.0).double()
    brain, positions, mask = _batch([0, 1, 0])
    mask[1] = False  # a padding row: no usable sensor at all
    out = layer(brain, positions, mask)
    assert torch.equal(out[1], torch.zeros_like(out[1]))
    layer.share_layouts = False
    torch.testing.assert_close(out, layer(brain, positions, mask))


@pytest.mark.parametrize("options", [{"unseen_subject": True}, {"unseen_subject": True, "unseen_subject_prob": 0.5},
                                     {"subject_layers": False}, {}])
def test_simple_conv_fast_path_matches_plain_in_training(options):
    torch.manual_seed(0)
    model = SimpleConv(n_subjects=3, output_dim=5, n_heads=6, hidden=8, n_blocks=2, n_freqs=3,
                       **options).double().train()
    brain, positions, mask = _batch([0, 0, 1, 0, 1, 1], n_times=21)
    subjects = torch.tensor([0, 1, 2, 0, 1, 2])
    results = [_outputs_and_grads(model, fast, brain, subjects, positions, mask,
                                  generator=torch.Generator().manual_seed(7)) for fast in (False, True)]
    (plain, plain_grads), (fast, fast_grads) = results
    torch.testing.assert_close(fast, plain)
    assert plain_grads.keys() == fast_grads.keys()
    for name in plain_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], msg=name)


def test_fast_path_one_layout_one_subject_and_eval():
    torch.manual_seed(0)
    model = SimpleConv(n_subjects=2, output_dim=4, n_heads=5, hidden=6, n_blocks=1, n_freqs=3).double().eval()
    brain, positions, mask = _batch([0, 0, 0])
    subjects = torch.tensor([1, 1, 1])
    (plain, plain_grads), (fast, fast_grads) = (_outputs_and_grads(model, fast, brain, subjects, positions, mask)
                                                for fast in (False, True))
    torch.testing.assert_close(fast, plain)
    for name in plain_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], msg=name)


def test_fast_path_in_float32_within_float_tolerance():
    torch.manual_seed(0)
    model = SimpleConv(n_subjects=2, output_dim=6, n_heads=16, hidden=16, n_blocks=2, n_freqs=8).train()
    brain, positions, mask = (t.float() if t.is_floating_point() else t for t in _batch([0] * 8, n_channels=30))
    subjects = torch.tensor([0, 1] * 4)
    results = [_outputs_and_grads(model, fast, brain, subjects, positions, mask,
                                  generator=torch.Generator().manual_seed(2)) for fast in (False, True)]
    (plain, plain_grads), (fast, fast_grads) = results
    torch.testing.assert_close(fast, plain, rtol=1e-4, atol=1e-5)
    # Absolute tolerance on the scale of the largest gradient: the exact gradient of a conv
    # bias followed by BatchNorm is zero, so both paths give only float32 rounding there.
    scale = max(float(g.abs().max()) for g in plain_grads.values())
    for name in plain_grads:
        torch.testing.assert_close(fast_grads[name], plain_grads[name], rtol=1e-4, atol=1e-5 * scale, msg=name)
