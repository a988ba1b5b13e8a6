"""Two-view losses (:mod:`biocl.heads.functional.two_view`) against plain loops, gradcheck, closed forms."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from biocl.heads import functional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heads_reference_loops as loops  # noqa: E402

ATOL = 1e-10


# ---------------------------------------------------------------- weighted InfoNCE and DCL

def test_weighted_infonce_matches_loop() -> None:
    z1, z2 = loops.randn(4, 5, seed=20), loops.randn(4, 5, seed=21)
    for tau in (0.05, 0.5):
        expected = sum(loops.ref_weighted_per_anchor(z1, z2, tau)) / 8
        assert abs(float(functional.weighted_infonce(z1, z2, tau=tau)) - expected) < ATOL


def test_weighted_infonce_local_rows_against_global_columns() -> None:
    z1, z2 = loops.randn(6, 5, seed=22), loops.randn(6, 5, seed=23)
    per_anchor = loops.ref_weighted_per_anchor(z1, z2, 0.1)
    local = [2, 3]  # pairs 2 and 3: anchors 2, 3 (view 1) and 8, 9 (view 2)
    expected = sum(per_anchor[a] for a in (2, 3, 8, 9)) / 4
    got = functional.weighted_infonce(z1[local], z2[local], z1_all=z1, z2_all=z2, offset=2, tau=0.1)
    assert abs(float(got) - expected) < ATOL
    by_labels = functional.weighted_infonce(z1[local], z2[local], z1_all=z1, z2_all=z2, labels=torch.tensor(local),
                                            tau=0.1)
    assert abs(float(by_labels) - expected) < ATOL


def test_weighted_infonce_equal_similarities_and_hard_negatives() -> None:
    ones = torch.ones(5, 3, dtype=torch.float64)
    assert float(functional.weighted_infonce(ones, ones)) == pytest.approx(math.log(2 * 5 - 1), abs=1e-12)
    # Weighting by K softmax never lowers the negative mass (Cauchy-Schwarz): at least NT-Xent.
    z1, z2 = loops.randn(5, 3, seed=24), loops.randn(5, 3, seed=25)
    nt_xent = functional.supcon_loss(torch.stack([z1, z2], dim=1), tau=0.05)
    assert float(functional.weighted_infonce(z1, z2, tau=0.05)) > float(nt_xent)


def test_dcl_matches_loop_and_closed_form() -> None:
    z1, z2 = loops.randn(4, 5, seed=26), loops.randn(4, 5, seed=27)
    expected = sum(loops.ref_dcl_per_anchor(z1, z2, 0.1)) / 8
    assert abs(float(functional.dcl_loss(z1, z2, tau=0.1)) - expected) < ATOL
    ones = torch.ones(4, 3, dtype=torch.float64)
    assert float(functional.dcl_loss(ones, ones)) == pytest.approx(math.log(2 * 4 - 2), abs=1e-12)
    local = functional.dcl_loss(z1[1:3], z2[1:3], z1_all=z1, z2_all=z2, offset=1, tau=0.1)
    per_anchor = loops.ref_dcl_per_anchor(z1, z2, 0.1)
    assert abs(float(local) - sum(per_anchor[a] for a in (1, 2, 5, 6)) / 4) < ATOL


@pytest.mark.parametrize("loss", [functional.weighted_infonce, functional.dcl_loss])
def test_two_view_losses_invariances_and_gradcheck(loss) -> None:
    z1, z2 = loops.randn(5, 4, seed=28), loops.randn(5, 4, seed=29)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(loss(z1, z2), loss(z1[perm], z2[perm]), atol=ATOL, rtol=0)
    torch.testing.assert_close(loss(z1, z2), loss(z2, z1), atol=ATOL, rtol=0)
    a, b = loops.randn(3, 3, seed=30).requires_grad_(), loops.randn(3, 3, seed=31).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: loss(x, y, tau=0.2), (a, b))


# ---------------------------------------------------------------- MI-Mix

def test_mimix_matches_loop() -> None:
    zm, zp = loops.randn(5, 4, seed=40), loops.randn(5, 4, seed=41)
    lam = torch.tensor([0.5, 0.7, 1.0, 0.9, 0.6], dtype=torch.float64)
    mix = torch.tensor([1, 0, 2, 4, 3])  # row 2 mixed with itself: both terms coincide
    for tau in (0.05, 0.3):
        expected = sum(loops.ref_mimix_per_row(zm, zp, lam, mix, tau)) / 5
        assert abs(float(functional.mimix_loss(zm, zp, lam, mix, tau=tau)) - expected) < ATOL


def test_mimix_uses_global_columns() -> None:
    zm, zp = loops.randn(6, 4, seed=42), loops.randn(6, 4, seed=43)
    lam = torch.linspace(0.5, 1.0, 6, dtype=torch.float64)
    mix = torch.tensor([5, 2, 1, 4, 3, 0])
    per_row = loops.ref_mimix_per_row(zm, zp, lam, mix, 0.1)
    local = torch.tensor([3, 4])
    got = functional.mimix_loss(zm[local], zp, lam[local], mix[local], labels=local, tau=0.1)
    assert abs(float(got) - (per_row[3] + per_row[4]) / 2) < ATOL


def test_mimix_closed_forms_and_lambda_one_is_hard_infonce() -> None:
    ones = torch.ones(4, 3, dtype=torch.float64)
    lam = torch.tensor([0.5, 0.6, 0.8, 1.0], dtype=torch.float64)
    closed_form = functional.mimix_loss(ones, ones, lam, torch.tensor([1, 2, 3, 0]))
    assert float(closed_form) == pytest.approx(math.log(4), abs=1e-12)
    zm, zp = loops.randn(4, 3, seed=44), loops.randn(4, 3, seed=45)
    full = functional.mimix_loss(zm, zp, torch.ones(4, dtype=torch.float64), torch.tensor([1, 2, 3, 0]))
    other_mix = functional.mimix_loss(zm, zp, torch.ones(4, dtype=torch.float64), torch.tensor([3, 0, 1, 2]))
    torch.testing.assert_close(full, other_mix, atol=ATOL, rtol=0)


def test_mimix_permutation_invariance_and_gradcheck() -> None:
    zm, zp = loops.randn(5, 4, seed=46), loops.randn(5, 4, seed=47)
    lam = torch.tensor([0.5, 0.7, 0.8, 0.9, 0.6], dtype=torch.float64)
    mix = torch.tensor([1, 0, 3, 4, 2])
    perm = torch.tensor([2, 4, 0, 1, 3])
    inverse = torch.argsort(perm)
    base = functional.mimix_loss(zm, zp, lam, mix)
    torch.testing.assert_close(base, functional.mimix_loss(zm[perm], zp[perm], lam[perm], inverse[mix[perm]]),
                               atol=ATOL, rtol=0)
    a, b = loops.randn(3, 3, seed=48).requires_grad_(), loops.randn(3, 3, seed=49).requires_grad_()
    weights = torch.tensor([0.6, 0.9, 0.75], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y, w: functional.mimix_loss(x, y, w, torch.tensor([2, 0, 1]), tau=0.2),
                                    (a, b, weights))
