"""Loss modules in one process, the logit scale, mixing, the queue, projections, the public API."""

from __future__ import annotations

import collections
import inspect
import math

import pytest
import torch
from torch import nn

import biocl.heads as heads
from biocl.heads import functional as HF
from biocl.heads.distributed import (gather_no_grad, gather_with_grad, offset_local_index, rank_offset_labels,
                                     world_info)
from biocl.heads.losses import (ClipLoss, DCLLoss, LogitScale, MIMixLoss, SupConLoss, TNCELoss,
                                WeightedInfoNCELoss)
from biocl.heads.mixing import mix_hidden, sample_layer, sample_mix
from biocl.heads.projection import ProjectionHead
from biocl.heads.queue import MomentumQueue, momentum_update


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# ---------------------------------------------------------------- logit scale

def test_logit_scale_defaults_and_clamp() -> None:
    scale = LogitScale()
    assert float(scale().detach()) == pytest.approx(math.log(1 / 0.07))
    assert isinstance(scale.log_scale, nn.Parameter)
    with torch.no_grad():
        scale.log_scale.fill_(10.0)
    assert float(scale().detach()) == pytest.approx(math.log(100))
    scale().backward()
    assert float(scale.log_scale.grad) == 0.0
    scale.clamp_()
    assert float(scale.log_scale.detach()) == pytest.approx(math.log(100))
    with torch.no_grad():
        scale.log_scale.fill_(-3.0)
    assert float(scale().detach()) == 0.0


def test_logit_scale_gradient_inside_range_and_fixed_buffer() -> None:
    scale = LogitScale(init=1.0)
    (3.0 * scale()).backward()
    assert float(scale.log_scale.grad) == pytest.approx(3.0)
    fixed = LogitScale(init=0.5, learnable=False)
    assert list(fixed.parameters()) == [] and "log_scale" in fixed.state_dict()
    with pytest.raises(ValueError, match="outside"):
        LogitScale(init=6.0)


# ---------------------------------------------------------------- distributed helpers without a process group

def test_distributed_helpers_are_identities_in_one_process() -> None:
    x = _randn(3, 2).requires_grad_()
    assert world_info() == (0, 1)
    assert gather_with_grad(x) is x
    assert not gather_no_grad(x).requires_grad
    assert rank_offset_labels(3, rank=2).tolist() == [6, 7, 8]
    assert rank_offset_labels(4).tolist() == [0, 1, 2, 3]
    assert offset_local_index(torch.tensor([1, -1, 0]), 3, rank=1).tolist() == [4, -1, 3]


# ---------------------------------------------------------------- modules equal the functions in one process

def test_clip_module_matches_function_and_masks_ids() -> None:
    q, c = _randn(5, 4, seed=1), _randn(5, 4, seed=2)
    ids = torch.tensor([0, 1, 0, 2, 1])
    module = ClipLoss("both", symmetric=True, learnable_scale=True).double()
    mask = ids[:, None] == ids[None, :]
    expected = HF.clip_loss(q, c, logit_scale=module.logit_scale().detach(), symmetric=True, candidate_mask=mask)
    got = module(q, c, candidate_ids=ids)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    got.backward()
    assert module.logit_scale.log_scale.grad is not None
    assert float(module(q, c).detach()) != pytest.approx(float(got.detach()))


def test_brainmagick_clip_has_no_scale_and_no_parameters() -> None:
    q, c = _randn(4, 3, 6, seed=3), _randn(4, 3, 6, seed=4)
    module = ClipLoss("candidates", init_log_scale=None)
    assert list(module.parameters()) == []
    torch.testing.assert_close(module(q, c), HF.clip_loss(q, c, normalize="candidates"), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="normalize"):
        ClipLoss("queries")


def test_pair_modules_match_functions() -> None:
    z1, z2 = _randn(4, 5, seed=5), _randn(4, 5, seed=6)
    torch.testing.assert_close(WeightedInfoNCELoss(tau=0.1)(z1, z2), HF.weighted_infonce(z1, z2, tau=0.1))
    torch.testing.assert_close(DCLLoss(tau=0.2)(z1, z2), HF.dcl_loss(z1, z2, tau=0.2))
    lam = torch.tensor([0.5, 0.6, 0.9, 1.0], dtype=torch.float64)
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(MIMixLoss(tau=0.1)(z1, z2, lam, perm), HF.mimix_loss(z1, z2, lam, perm, tau=0.1))
    features, labels = torch.stack([z1, z2], dim=1), torch.tensor([0, 1, 1, 0])
    torch.testing.assert_close(SupConLoss(tau=0.3)(features, labels), HF.supcon_loss(features, labels, tau=0.3))


def test_tnce_module_matches_function_and_learns_its_scale() -> None:
    audio, text = _randn(6, 4, seed=7), _randn(6, 4, seed=8)
    rev = torch.tensor([2, 3, 0, 1, -1, -1])
    module = TNCELoss(a_same=1.0, a_cross=0.5).double()
    got = module(audio, text, rev)
    expected = HF.tnce_loss(audio, text, reverse_index=rev, a_same=1.0, a_cross=0.5,
                            logit_scale=module.logit_scale().detach())
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    got.backward()
    assert module.logit_scale.log_scale.grad is not None


# ---------------------------------------------------------------- mixing

def test_sample_mix_is_reproducible_and_in_range() -> None:
    lam_a, perm_a = sample_mix(64, generator=torch.Generator().manual_seed(5))
    lam_b, perm_b = sample_mix(64, generator=torch.Generator().manual_seed(5))
    lam_c, _ = sample_mix(64, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(lam_a, lam_b, atol=0, rtol=0)
    assert torch.equal(perm_a, perm_b)
    assert not torch.equal(lam_a, lam_c)
    assert float(lam_a.min()) >= 0.5 and float(lam_a.max()) <= 1.0
    assert sorted(perm_a.tolist()) == list(range(64))


def test_sample_mix_distribution() -> None:
    generator = torch.Generator().manual_seed(0)
    # max(U, 1 - U) with U uniform (alpha = 1) is uniform on [0.5, 1]: mean 0.75.
    lam, _ = sample_mix(20000, alpha=1.0, generator=generator, dtype=torch.float64)
    assert float(lam.mean()) == pytest.approx(0.75, abs=0.005)
    concentrated, _ = sample_mix(20000, alpha=200.0, generator=generator)
    assert float(concentrated.mean()) < 0.53
    with pytest.raises(ValueError, match="alpha"):
        sample_mix(3, alpha=0.0, generator=generator)


def test_mix_hidden_values_and_mask_intersection() -> None:
    hidden = _randn(3, 4, 2, seed=9)
    lam = torch.tensor([1.0, 0.5, 0.75], dtype=torch.float64)
    perm = torch.tensor([1, 2, 0])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
    mixed, mixed_mask = mix_hidden(hidden, lam, perm, mask)
    torch.testing.assert_close(mixed[0], hidden[0])
    torch.testing.assert_close(mixed[1], 0.5 * hidden[1] + 0.5 * hidden[2])
    torch.testing.assert_close(mixed[2], 0.75 * hidden[2] + 0.25 * hidden[0])
    assert mixed_mask.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]
    assert mixed_mask.dtype == mask.dtype
    _, bool_mask = mix_hidden(hidden, lam, perm, mask.bool())
    assert bool_mask.dtype == torch.bool and bool_mask.tolist() == mixed_mask.bool().tolist()
    pooled, none_mask = mix_hidden(hidden[:, 0], lam, perm)
    torch.testing.assert_close(pooled, mixed[:, 0])
    assert none_mask is None


def test_sample_layer_is_uniform_and_reproducible() -> None:
    draws = [sample_layer(4, torch.Generator().manual_seed(seed)) for seed in range(200)]
    assert set(draws) == {0, 1, 2, 3}
    assert min(collections.Counter(draws).values()) > 25
    assert sample_layer(12, torch.Generator().manual_seed(3)) == sample_layer(12, torch.Generator().manual_seed(3))


# ---------------------------------------------------------------- queue and momentum

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
    loss = HF.info_nce(_randn(2, 3).float(), _randn(2, 3, seed=1).float(), queue.keys())
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


# ---------------------------------------------------------------- projection heads

def test_dnabert_s_projection_head() -> None:
    head = ProjectionHead(768, 768, 128)
    assert sum(p.numel() for p in head.parameters()) == 768 * 768 + 768 * 128
    z = head(_randn(3, 768).float())
    assert z.shape == (3, 128)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(3))


def test_linear_projection_and_options() -> None:
    head = ProjectionHead(6, None, 4, bias=True, normalize=False)
    assert isinstance(head.net, nn.Linear) and head.net.bias is not None
    x = _randn(2, 5, 6).float()
    torch.testing.assert_close(head(x), head.net(x))
    assert isinstance(ProjectionHead(6, 8, 4, activation="gelu").net[1], nn.GELU)
    with pytest.raises(ValueError, match="activation"):
        ProjectionHead(6, 8, 4, activation="swish")


# ---------------------------------------------------------------- public API

def test_public_api_is_documented() -> None:
    for name in heads.__all__:
        obj = getattr(heads, name)
        assert inspect.getdoc(obj), f"biocl.heads.{name} has no docstring"
    for module in ("functional", "losses", "distributed", "mixing", "queue", "projection"):
        submodule = getattr(heads, module)
        assert submodule.__doc__ and all(hasattr(submodule, n) for n in submodule.__all__)
