"""SupCon (:mod:`biocl.heads.functional.supervised`) against a plain loop, gradcheck, closed forms."""

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


def test_supcon_matches_loop() -> None:
    features = loops.randn(5, 2, 4, seed=60)
    labels = torch.tensor([0, 1, 0, 2, 1])
    for lab in (labels, None):
        assert abs(float(functional.supcon_loss(features, lab, tau=0.2)) - loops.ref_supcon(features, lab, 0.2)) < ATOL
    three_views = loops.randn(4, 3, 3, seed=61)
    assert abs(float(functional.supcon_loss(three_views, torch.tensor([1, 1, 0, 2]), tau=0.5))
               - loops.ref_supcon(three_views, torch.tensor([1, 1, 0, 2]), 0.5)) < ATOL


def test_supcon_mask_equals_labels_and_skips_anchors_without_positives() -> None:
    features = loops.randn(5, 2, 4, seed=62)
    labels = torch.tensor([0, 1, 0, 2, 1])
    mask = labels[:, None] == labels[None, :]
    torch.testing.assert_close(functional.supcon_loss(features, tau=0.2, mask=mask),
                               functional.supcon_loss(features, labels, tau=0.2),
                               atol=ATOL, rtol=0)
    one_view = loops.randn(4, 1, 3, seed=63)
    lab = torch.tensor([0, 0, 1, 2])  # samples 2 and 3 have no positive
    assert abs(float(functional.supcon_loss(one_view, lab, tau=0.3)) - loops.ref_supcon(one_view, lab, 0.3)) < ATOL


def test_supcon_closed_form_local_rows_invariance_and_gradcheck() -> None:
    ones = torch.ones(4, 2, 3, dtype=torch.float64)
    assert float(functional.supcon_loss(ones)) == pytest.approx(math.log(2 * 4 - 1), abs=1e-12)
    features = loops.randn(6, 2, 3, seed=64)
    labels = torch.tensor([0, 1, 0, 1, 2, 2])
    full = functional.supcon_loss(features, labels, tau=0.3)
    halves = [functional.supcon_loss(features[i:i + 3], labels[i:i + 3], tau=0.3, features_all=features,
                                     labels_all=labels, offset=i) for i in (0, 3)]
    torch.testing.assert_close(full, 0.5 * (halves[0] + halves[1]), atol=ATOL, rtol=0)
    perm = torch.tensor([5, 2, 0, 4, 1, 3])
    torch.testing.assert_close(full, functional.supcon_loss(features[perm], labels[perm], tau=0.3), atol=ATOL, rtol=0)
    x = loops.randn(3, 2, 3, seed=65).requires_grad_()
    assert torch.autograd.gradcheck(lambda f: functional.supcon_loss(f, torch.tensor([0, 0, 1]), tau=0.3), (x,))
