"""Loss modules: the logit scale, and each module equal to its pure function in one process."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from biocl.heads import functional
from biocl.heads.losses import (ClipLoss, DCLLoss, LogitScale, MIMixLoss, SupConLoss, TNCELoss,
                                WeightedInfoNCELoss)


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


# ---------------------------------------------------------------- modules equal the functions in one process

def test_clip_module_matches_function_and_masks_ids() -> None:
    q, c = _randn(5, 4, seed=1), _randn(5, 4, seed=2)
    ids = torch.tensor([0, 1, 0, 2, 1])
    module = ClipLoss("both", symmetric=True, learnable_scale=True).double()
    mask = ids[:, None] == ids[None, :]
    expected = functional.clip_loss(q, c, logit_scale=module.logit_scale().detach(), symmetric=True,
                                    candidate_mask=mask)
    got = module(q, c, candidate_ids=ids)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    got.backward()
    assert module.logit_scale.log_scale.grad is not None
    assert float(module(q, c).detach()) != pytest.approx(float(got.detach()))


def test_brainmagick_clip_has_no_scale_and_no_parameters() -> None:
    q, c = _randn(4, 3, 6, seed=3), _randn(4, 3, 6, seed=4)
    module = ClipLoss("candidates", init_log_scale=None)
    assert list(module.parameters()) == []
    torch.testing.assert_close(module(q, c), functional.clip_loss(q, c, normalize="candidates"), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="normalize"):
        ClipLoss("queries")


def test_pair_modules_match_functions() -> None:
    z1, z2 = _randn(4, 5, seed=5), _randn(4, 5, seed=6)
    torch.testing.assert_close(WeightedInfoNCELoss(tau=0.1)(z1, z2), functional.weighted_infonce(z1, z2, tau=0.1))
    torch.testing.assert_close(DCLLoss(tau=0.2)(z1, z2), functional.dcl_loss(z1, z2, tau=0.2))
    lam = torch.tensor([0.5, 0.6, 0.9, 1.0], dtype=torch.float64)
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(MIMixLoss(tau=0.1)(z1, z2, lam, perm),
                               functional.mimix_loss(z1, z2, lam, perm, tau=0.1))
    features, labels = torch.stack([z1, z2], dim=1), torch.tensor([0, 1, 1, 0])
    torch.testing.assert_close(SupConLoss(tau=0.3)(features, labels),
                               functional.supcon_loss(features, labels, tau=0.3))


def test_tnce_module_matches_function_and_learns_its_scale() -> None:
    queries, candidates = _randn(6, 4, seed=7), _randn(6, 4, seed=8)
    rev = torch.tensor([2, 3, 0, 1, -1, -1])
    module = TNCELoss(a_same=1.0, a_cross=0.5).double()
    got = module(queries, candidates, rev)
    expected = functional.tnce_loss(queries, candidates, reverse_index=rev, a_same=1.0, a_cross=0.5,
                                    logit_scale=module.logit_scale().detach())
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    got.backward()
    assert module.logit_scale.log_scale.grad is not None
