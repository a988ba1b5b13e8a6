"""CLIP-style losses (:mod:`biocl.heads.functional.clip`) against plain loops, gradcheck, closed forms."""

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


# ---------------------------------------------------------------- CLIP

@pytest.mark.parametrize("normalize", ["both", "candidates", "none"])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("log_scale", [None, 1.3])
def test_clip_matches_loop(normalize: str, symmetric: bool, log_scale: float | None) -> None:
    q, c = loops.randn(5, 4, seed=1), loops.randn(5, 4, seed=2)
    got = functional.clip_loss(q, c, logit_scale=log_scale, normalize=normalize, symmetric=symmetric)
    assert abs(float(got) - loops.ref_clip(q, c, None, log_scale, normalize, symmetric)) < ATOL


def test_clip_flattens_trailing_dimensions_and_honours_labels() -> None:
    q, c = loops.randn(3, 2, 3, seed=3), loops.randn(6, 2, 3, seed=4)
    labels = torch.tensor([4, 0, 2])
    got = functional.clip_loss(q, c, labels=labels, normalize="candidates")
    assert abs(float(got) - loops.ref_clip(q, c, labels, None, "candidates")) < ATOL


def test_clip_candidate_mask_removes_columns_but_never_the_positive() -> None:
    q, c = loops.randn(4, 3, seed=5), loops.randn(4, 3, seed=6)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 2] = mask[1, 3] = mask[2, 2] = True  # mask[2, 2] is row 2's positive: ignored
    got = functional.clip_loss(q, c, logit_scale=0.5, candidate_mask=mask, symmetric=True)
    assert abs(float(got) - loops.ref_clip(q, c, None, 0.5, "both", True, mask)) < ATOL
    only_positive = ~torch.eye(4, dtype=torch.bool)
    assert float(functional.clip_loss(q, c, candidate_mask=only_positive)) == pytest.approx(0.0, abs=1e-12)
    positive_only_masked = torch.eye(4, dtype=torch.bool)
    unmasked = float(functional.clip_loss(q, c))
    assert float(functional.clip_loss(q, c, candidate_mask=positive_only_masked)) == pytest.approx(unmasked)


def test_clip_identical_candidates_give_log_n() -> None:
    q = loops.randn(6, 4, seed=7)
    c = loops.randn(1, 4, seed=8).expand(6, 4)
    for normalize in ("both", "candidates", "none"):
        loss = functional.clip_loss(q, c, logit_scale=2.0, normalize=normalize)
        assert float(loss) == pytest.approx(math.log(6), abs=1e-12)


def test_clip_invariant_to_consistent_permutation_and_row_scale() -> None:
    q, c = loops.randn(6, 4, seed=9), loops.randn(6, 4, seed=10)
    mask = loops.randn(6, 6, seed=11) > 0.5
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    base = functional.clip_loss(q, c, logit_scale=1.0, candidate_mask=mask, symmetric=True)
    permuted = functional.clip_loss(q[perm], c[perm], logit_scale=1.0, candidate_mask=mask[perm][:, perm],
                                    symmetric=True)
    torch.testing.assert_close(base, permuted, atol=ATOL, rtol=0)
    row_scale = 0.1 + 5 * loops.randn(6, 1, seed=12).abs()
    scaled = functional.clip_loss(q * row_scale, c / row_scale.flip(0), logit_scale=1.0, candidate_mask=mask,
                                  symmetric=True)
    torch.testing.assert_close(base, scaled, atol=ATOL, rtol=0)


def test_clip_gradcheck() -> None:
    q = loops.randn(4, 3, seed=16).requires_grad_()
    c = loops.randn(4, 3, seed=13).requires_grad_()
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[1, 0] = True
    for normalize in ("both", "candidates"):
        assert torch.autograd.gradcheck(
            lambda a, b, s: functional.clip_loss(a, b, logit_scale=s, normalize=normalize, symmetric=True,
                                         candidate_mask=mask), (q, c, scale))


def test_clip_rejects_bad_arguments() -> None:
    q = loops.randn(3, 2)
    with pytest.raises(ValueError, match="normalize"):
        functional.clip_loss(q, q, normalize="rows")
    with pytest.raises(ValueError, match="symmetric"):
        functional.clip_loss(q, loops.randn(4, 2), symmetric=True)
    with pytest.raises(ValueError, match="labels"):
        functional.clip_loss(loops.randn(5, 2), q)


def test_clip_half_precision_is_scored_in_float32() -> None:
    q, c = loops.randn(4, 8, seed=14).bfloat16(), loops.randn(4, 8, seed=15).bfloat16()
    loss = functional.clip_loss(q, c, logit_scale=math.log(100))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)

# ---------------------------------------------------------------- TNCE

@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("weights", [(0.0, 0.0), (1.5, 0.5), (3.0, 0.0), (0.0, 2.0)])
def test_tnce_matches_loop(symmetric: bool, weights: tuple[float, float]) -> None:
    queries, candidates, rev = loops.tnce_batch(3, seed=50)
    a_same, a_cross = weights
    got = functional.tnce_loss(queries, candidates, reverse_index=rev, a_same=a_same, a_cross=a_cross, logit_scale=1.2,
                       symmetric=symmetric)
    assert abs(float(got) - loops.ref_tnce(queries, candidates, rev, a_same, a_cross, 1.2, symmetric)) < ATOL


def test_tnce_local_rows_against_global_columns() -> None:
    queries, candidates, rev = loops.tnce_batch(3, seed=51)
    local = torch.tensor([1, 4, 7])
    got = functional.tnce_loss(queries[local], candidates, reverse_index=rev, labels=local, a_same=1.0, a_cross=0.5,
                       logit_scale=0.8, symmetric=False)
    expected = loops.ref_tnce(queries[local], candidates, rev, 1.0, 0.5, 0.8, False, labels=local)
    assert abs(float(got) - expected) < ATOL


def test_tnce_without_extra_weights_is_symmetric_clip() -> None:
    queries, candidates, rev = loops.tnce_batch(2, seed=52)
    got = functional.tnce_loss(queries, candidates, reverse_index=rev, a_same=0.0, a_cross=0.0, logit_scale=1.0)
    clip = functional.clip_loss(queries, candidates, logit_scale=1.0, symmetric=True)
    torch.testing.assert_close(got, clip, atol=ATOL, rtol=0)


def test_tnce_equal_similarities_closed_form() -> None:
    pairs, a_same, a_cross = 3, 2.0, 0.5
    ones = torch.ones(3 * pairs, 4, dtype=torch.float64)
    _, _, rev = loops.tnce_batch(pairs)
    ordered_row = math.log(3 * pairs + a_same + a_cross * (2 * pairs - 2))
    overlap_row = math.log(3 * pairs + a_cross * 2 * pairs)
    expected = (2 * pairs * ordered_row + pairs * overlap_row) / (3 * pairs)
    got = functional.tnce_loss(ones, ones, reverse_index=rev, a_same=a_same, a_cross=a_cross, logit_scale=2.0)
    assert float(got) == pytest.approx(expected, abs=1e-12)


def test_tnce_reversal_weight_raises_loss_and_layout_does_not_matter() -> None:
    queries, candidates, rev = loops.tnce_batch(3, seed=53)
    plain = functional.tnce_loss(queries, candidates, reverse_index=rev, a_same=0.0, a_cross=0.0, logit_scale=1.0)
    weighted = functional.tnce_loss(queries, candidates, reverse_index=rev, a_same=2.0, a_cross=0.5, logit_scale=1.0)
    assert float(weighted) > float(plain)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    inverse = torch.argsort(perm)
    rev_perm = torch.where(rev[perm] >= 0, inverse[rev[perm].clamp(min=0)], torch.full_like(rev, -1))
    permuted = functional.tnce_loss(queries[perm], candidates[perm], reverse_index=rev_perm, a_same=2.0, a_cross=0.5,
                                    logit_scale=1.0)
    torch.testing.assert_close(weighted, permuted, atol=ATOL, rtol=0)


def test_tnce_gradcheck_and_validation() -> None:
    queries, candidates, rev = loops.tnce_batch(2, seed=54)
    queries, candidates = queries.requires_grad_(), candidates.requires_grad_()
    scale = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, t, s: functional.tnce_loss(a, t, reverse_index=rev, a_same=1.5, a_cross=0.5, logit_scale=s),
        (queries, candidates, scale))
    with pytest.raises(ValueError, match="both ways"):
        functional.tnce_loss(queries, candidates, reverse_index=torch.tensor([2, 3, 1, 0, -1, -1]), a_same=1.0,
                             a_cross=1.0)
    with pytest.raises(ValueError, match="exceed -1"):
        functional.tnce_loss(queries, candidates, reverse_index=rev, a_same=-1.0, a_cross=0.0)

# ---------------------------------------------------------------- MoCo InfoNCE

def test_info_nce_queue_matches_loop_and_closed_form() -> None:
    q, k, queue = loops.randn(4, 5, seed=70), loops.randn(4, 5, seed=71), loops.randn(7, 5, seed=72)
    assert abs(float(functional.info_nce(q, k, queue, tau=0.1)) - loops.ref_info_nce_queue(q, k, queue, 0.1)) < ATOL
    assert abs(float(functional.info_nce(q, k, tau=0.1)) - loops.ref_clip(q, k, None, -math.log(0.1))) < ATOL
    ones = torch.ones(3, 2, dtype=torch.float64)
    uniform_queue = torch.ones(9, 2, dtype=torch.float64)
    assert float(functional.info_nce(ones, ones, uniform_queue)) == pytest.approx(math.log(10), abs=1e-12)
    a, b = loops.randn(3, 3, seed=73).requires_grad_(), loops.randn(3, 3, seed=74).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: functional.info_nce(x, y, loops.randn(5, 3, seed=75), tau=0.2), (a, b))
