"""Every pure loss against a plain-loop float64 reference, gradcheck, closed forms, invariances."""

from __future__ import annotations

import math

import pytest
import torch

from biocl.heads import functional as HF

ATOL = 1e-10


# ---------------------------------------------------------------- plain-loop references

def _rows(t: torch.Tensor) -> list[list[float]]:
    return [[float(v) for v in row] for row in t.detach().reshape(t.shape[0], -1)]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def _cos(a: list[float], b: list[float]) -> float:
    return _dot(a, b) / math.sqrt(_dot(a, a) * _dot(b, b))


def _score(a: list[float], b: list[float], normalize: str) -> float:
    if normalize == "both":
        return _cos(a, b)
    if normalize == "candidates":
        return _dot(a, b) / math.sqrt(_dot(b, b))
    return _dot(a, b)


def _cross_entropy(logits: list[list[float]], labels: list[int], mask: list[list[bool]] | None) -> list[float]:
    losses = []
    for i, row in enumerate(logits):
        denominator = 0.0
        for j, value in enumerate(row):
            if j == labels[i] or mask is None or not mask[i][j]:
                denominator += math.exp(value)
        losses.append(-(row[labels[i]] - math.log(denominator)))
    return losses


def ref_clip(q, c, labels=None, log_scale=None, normalize="both", symmetric=False, mask=None) -> float:
    rows_q, rows_c = _rows(q), _rows(c)
    scale = 1.0 if log_scale is None else math.exp(log_scale)
    logits = [[scale * _score(a, b, normalize) for b in rows_c] for a in rows_q]
    labels = list(range(len(rows_q))) if labels is None else [int(v) for v in labels]
    mask = None if mask is None else mask.tolist()
    loss = sum(_cross_entropy(logits, labels, mask)) / len(rows_q)
    if not symmetric:
        return loss
    transposed = [list(col) for col in zip(*logits)]
    inverse = [labels.index(j) for j in range(len(rows_c))]
    mask_t = None if mask is None else [list(col) for col in zip(*mask)]
    return 0.5 * (loss + sum(_cross_entropy(transposed, inverse, mask_t)) / len(rows_c))


def _two_view(z1, z2, tau):
    views = _rows(z1) + _rows(z2)
    n = len(views) // 2
    s = [[_cos(a, b) / tau for b in views] for a in views]
    return views, n, s


def ref_weighted_per_anchor(z1, z2, tau) -> list[float]:
    views, n, s = _two_view(z1, z2, tau)
    losses = []
    for a in range(2 * n):
        p = (a + n) % (2 * n)
        negatives = [b for b in range(2 * n) if b not in (a, p)]
        mean_exp = sum(math.exp(s[a][b]) for b in negatives) / len(negatives)
        ng = sum(math.exp(2 * s[a][b]) for b in negatives) / mean_exp
        losses.append(-math.log(math.exp(s[a][p]) / (math.exp(s[a][p]) + ng)))
    return losses


def ref_dcl_per_anchor(z1, z2, tau) -> list[float]:
    views, n, s = _two_view(z1, z2, tau)
    losses = []
    for a in range(2 * n):
        p = (a + n) % (2 * n)
        negatives = sum(math.exp(s[a][b]) for b in range(2 * n) if b not in (a, p))
        losses.append(-s[a][p] + math.log(negatives))
    return losses


def ref_mimix_per_row(zm, zp, lam, mix, tau, labels=None) -> list[float]:
    rows_m, rows_p = _rows(zm), _rows(zp)
    labels = list(range(len(rows_m))) if labels is None else [int(v) for v in labels]
    losses = []
    for i, anchor in enumerate(rows_m):
        s = [_cos(anchor, b) / tau for b in rows_p]
        negatives = [j for j in range(len(rows_p)) if j != labels[i]]
        mean_exp = sum(math.exp(s[j]) for j in negatives) / len(negatives)
        ng = sum(math.exp(2 * s[j]) for j in negatives) / mean_exp
        denominator = math.exp(s[labels[i]]) + ng
        weight = float(lam[i])
        losses.append(-(weight * math.log(math.exp(s[labels[i]]) / denominator)
                        + (1 - weight) * math.log(math.exp(s[int(mix[i])]) / denominator)))
    return losses


def _tnce_direction(rows, columns, rev, a_same, a_cross, scale, labels) -> list[float]:
    losses = []
    for u, row in enumerate(rows):
        t = labels[u]
        s = [scale * _cos(row, col) for col in columns]
        denominator = sum(math.exp(v) for v in s)
        if rev[t] >= 0:
            denominator += a_same * math.exp(s[rev[t]])
        for t_other in range(len(columns)):
            if t_other != t and rev[t_other] >= 0 and rev[t_other] != t:
                denominator += a_cross * math.exp(s[rev[t_other]])
        losses.append(-(s[t] - math.log(denominator)))
    return losses


def ref_tnce(audio, text, rev, a_same, a_cross, log_scale, symmetric, labels=None) -> float:
    scale = 1.0 if log_scale is None else math.exp(log_scale)
    rev = [int(v) for v in rev]
    labels = list(range(audio.shape[0])) if labels is None else [int(v) for v in labels]
    forward = _tnce_direction(_rows(audio), _rows(text), rev, a_same, a_cross, scale, labels)
    loss = sum(forward) / len(forward)
    if not symmetric:
        return loss
    backward = _tnce_direction(_rows(text), _rows(audio), rev, a_same, a_cross, scale, labels)
    return 0.5 * (loss + sum(backward) / len(backward))


def ref_supcon(features, labels, tau, mask=None) -> float:
    n, n_views = features.shape[:2]
    anchors = [(i, v) for v in range(n_views) for i in range(n)]
    emb = {(i, v): [float(x) for x in features[i, v]] for i, v in anchors}
    total, count = 0.0, 0
    for a in anchors:
        others = [b for b in anchors if b != a]
        def positive(b):
            if b[0] == a[0]:
                return True
            if mask is not None:
                return bool(mask[a[0], b[0]])
            return labels is not None and int(labels[a[0]]) == int(labels[b[0]])
        positives = [b for b in others if positive(b)]
        if not positives:
            continue
        denominator = sum(math.exp(_cos(emb[a], emb[b]) / tau) for b in others)
        total += -sum(_cos(emb[a], emb[p]) / tau - math.log(denominator) for p in positives) / len(positives)
        count += 1
    return total / count


def ref_info_nce_queue(q, k, queue, tau) -> float:
    total = 0.0
    negatives = _rows(queue)
    for a, b in zip(_rows(q), _rows(k)):
        logits = [_cos(a, b) / tau] + [_cos(a, c) / tau for c in negatives]
        total += -(logits[0] - math.log(sum(math.exp(v) for v in logits)))
    return total / q.shape[0]


# ---------------------------------------------------------------- inputs

def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _tnce_batch(pairs: int, seed: int = 0):
    audio, text = _randn(3 * pairs, 4, seed=seed), _randn(3 * pairs, 4, seed=seed + 1)
    rev = torch.cat([torch.arange(pairs) + pairs, torch.arange(pairs), torch.full((pairs,), -1)])
    return audio, text, rev


# ---------------------------------------------------------------- CLIP

@pytest.mark.parametrize("normalize", ["both", "candidates", "none"])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("log_scale", [None, 1.3])
def test_clip_matches_loop(normalize: str, symmetric: bool, log_scale: float | None) -> None:
    q, c = _randn(5, 4, seed=1), _randn(5, 4, seed=2)
    got = HF.clip_loss(q, c, logit_scale=log_scale, normalize=normalize, symmetric=symmetric)
    assert abs(float(got) - ref_clip(q, c, None, log_scale, normalize, symmetric)) < ATOL


def test_clip_flattens_trailing_dimensions_and_honours_labels() -> None:
    q, c = _randn(3, 2, 3, seed=3), _randn(6, 2, 3, seed=4)
    labels = torch.tensor([4, 0, 2])
    got = HF.clip_loss(q, c, labels=labels, normalize="candidates")
    assert abs(float(got) - ref_clip(q, c, labels, None, "candidates")) < ATOL


def test_clip_candidate_mask_removes_columns_but_never_the_positive() -> None:
    q, c = _randn(4, 3, seed=5), _randn(4, 3, seed=6)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 2] = mask[1, 3] = mask[2, 2] = True  # mask[2, 2] is row 2's positive: ignored
    got = HF.clip_loss(q, c, logit_scale=0.5, candidate_mask=mask, symmetric=True)
    assert abs(float(got) - ref_clip(q, c, None, 0.5, "both", True, mask)) < ATOL
    only_positive = ~torch.eye(4, dtype=torch.bool)
    assert float(HF.clip_loss(q, c, candidate_mask=only_positive)) == pytest.approx(0.0, abs=1e-12)
    positive_only_masked = torch.eye(4, dtype=torch.bool)
    assert float(HF.clip_loss(q, c, candidate_mask=positive_only_masked)) == pytest.approx(float(HF.clip_loss(q, c)))


def test_clip_identical_candidates_give_log_n() -> None:
    q = _randn(6, 4, seed=7)
    c = _randn(1, 4, seed=8).expand(6, 4)
    for normalize in ("both", "candidates", "none"):
        assert float(HF.clip_loss(q, c, logit_scale=2.0, normalize=normalize)) == pytest.approx(math.log(6), abs=1e-12)


def test_clip_invariant_to_consistent_permutation_and_row_scale() -> None:
    q, c = _randn(6, 4, seed=9), _randn(6, 4, seed=10)
    mask = _randn(6, 6, seed=11) > 0.5
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(0))
    base = HF.clip_loss(q, c, logit_scale=1.0, candidate_mask=mask, symmetric=True)
    permuted = HF.clip_loss(q[perm], c[perm], logit_scale=1.0, candidate_mask=mask[perm][:, perm], symmetric=True)
    torch.testing.assert_close(base, permuted, atol=ATOL, rtol=0)
    row_scale = 0.1 + 5 * _randn(6, 1, seed=12).abs()
    scaled = HF.clip_loss(q * row_scale, c / row_scale.flip(0), logit_scale=1.0, candidate_mask=mask, symmetric=True)
    torch.testing.assert_close(base, scaled, atol=ATOL, rtol=0)


def test_clip_gradcheck() -> None:
    q = _randn(4, 3, seed=16).requires_grad_()
    c = _randn(4, 3, seed=13).requires_grad_()
    scale = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[1, 0] = True
    for normalize in ("both", "candidates"):
        assert torch.autograd.gradcheck(
            lambda a, b, s: HF.clip_loss(a, b, logit_scale=s, normalize=normalize, symmetric=True,
                                         candidate_mask=mask), (q, c, scale))


def test_clip_rejects_bad_arguments() -> None:
    q = _randn(3, 2)
    with pytest.raises(ValueError, match="normalize"):
        HF.clip_loss(q, q, normalize="rows")
    with pytest.raises(ValueError, match="symmetric"):
        HF.clip_loss(q, _randn(4, 2), symmetric=True)
    with pytest.raises(ValueError, match="labels"):
        HF.clip_loss(_randn(5, 2), q)


def test_clip_half_precision_is_scored_in_float32() -> None:
    q, c = _randn(4, 8, seed=14).bfloat16(), _randn(4, 8, seed=15).bfloat16()
    loss = HF.clip_loss(q, c, logit_scale=math.log(100))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


# ---------------------------------------------------------------- weighted InfoNCE and DCL

def test_weighted_infonce_matches_loop() -> None:
    z1, z2 = _randn(4, 5, seed=20), _randn(4, 5, seed=21)
    for tau in (0.05, 0.5):
        expected = sum(ref_weighted_per_anchor(z1, z2, tau)) / 8
        assert abs(float(HF.weighted_infonce(z1, z2, tau=tau)) - expected) < ATOL


def test_weighted_infonce_local_rows_against_global_columns() -> None:
    z1, z2 = _randn(6, 5, seed=22), _randn(6, 5, seed=23)
    per_anchor = ref_weighted_per_anchor(z1, z2, 0.1)
    local = [2, 3]  # pairs 2 and 3: anchors 2, 3 (view 1) and 8, 9 (view 2)
    expected = sum(per_anchor[a] for a in (2, 3, 8, 9)) / 4
    got = HF.weighted_infonce(z1[local], z2[local], z1_all=z1, z2_all=z2, offset=2, tau=0.1)
    assert abs(float(got) - expected) < ATOL
    by_labels = HF.weighted_infonce(z1[local], z2[local], z1_all=z1, z2_all=z2, labels=torch.tensor(local), tau=0.1)
    assert abs(float(by_labels) - expected) < ATOL


def test_weighted_infonce_equal_similarities_and_hard_negatives() -> None:
    ones = torch.ones(5, 3, dtype=torch.float64)
    assert float(HF.weighted_infonce(ones, ones)) == pytest.approx(math.log(2 * 5 - 1), abs=1e-12)
    # Weighting by K softmax never lowers the negative mass (Cauchy-Schwarz): at least NT-Xent.
    z1, z2 = _randn(5, 3, seed=24), _randn(5, 3, seed=25)
    nt_xent = HF.supcon_loss(torch.stack([z1, z2], dim=1), tau=0.05)
    assert float(HF.weighted_infonce(z1, z2, tau=0.05)) > float(nt_xent)


def test_dcl_matches_loop_and_closed_form() -> None:
    z1, z2 = _randn(4, 5, seed=26), _randn(4, 5, seed=27)
    expected = sum(ref_dcl_per_anchor(z1, z2, 0.1)) / 8
    assert abs(float(HF.dcl_loss(z1, z2, tau=0.1)) - expected) < ATOL
    ones = torch.ones(4, 3, dtype=torch.float64)
    assert float(HF.dcl_loss(ones, ones)) == pytest.approx(math.log(2 * 4 - 2), abs=1e-12)
    local = HF.dcl_loss(z1[1:3], z2[1:3], z1_all=z1, z2_all=z2, offset=1, tau=0.1)
    per_anchor = ref_dcl_per_anchor(z1, z2, 0.1)
    assert abs(float(local) - sum(per_anchor[a] for a in (1, 2, 5, 6)) / 4) < ATOL


@pytest.mark.parametrize("loss", [HF.weighted_infonce, HF.dcl_loss])
def test_two_view_losses_invariances_and_gradcheck(loss) -> None:
    z1, z2 = _randn(5, 4, seed=28), _randn(5, 4, seed=29)
    perm = torch.tensor([3, 0, 4, 1, 2])
    torch.testing.assert_close(loss(z1, z2), loss(z1[perm], z2[perm]), atol=ATOL, rtol=0)
    torch.testing.assert_close(loss(z1, z2), loss(z2, z1), atol=ATOL, rtol=0)
    a, b = _randn(3, 3, seed=30).requires_grad_(), _randn(3, 3, seed=31).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: loss(x, y, tau=0.2), (a, b))


# ---------------------------------------------------------------- MI-Mix

def test_mimix_matches_loop() -> None:
    zm, zp = _randn(5, 4, seed=40), _randn(5, 4, seed=41)
    lam = torch.tensor([0.5, 0.7, 1.0, 0.9, 0.6], dtype=torch.float64)
    mix = torch.tensor([1, 0, 2, 4, 3])  # row 2 mixed with itself: both terms coincide
    for tau in (0.05, 0.3):
        expected = sum(ref_mimix_per_row(zm, zp, lam, mix, tau)) / 5
        assert abs(float(HF.mimix_loss(zm, zp, lam, mix, tau=tau)) - expected) < ATOL


def test_mimix_uses_global_columns() -> None:
    zm, zp = _randn(6, 4, seed=42), _randn(6, 4, seed=43)
    lam = torch.linspace(0.5, 1.0, 6, dtype=torch.float64)
    mix = torch.tensor([5, 2, 1, 4, 3, 0])
    per_row = ref_mimix_per_row(zm, zp, lam, mix, 0.1)
    local = torch.tensor([3, 4])
    got = HF.mimix_loss(zm[local], zp, lam[local], mix[local], labels=local, tau=0.1)
    assert abs(float(got) - (per_row[3] + per_row[4]) / 2) < ATOL


def test_mimix_closed_forms_and_lambda_one_is_hard_infonce() -> None:
    ones = torch.ones(4, 3, dtype=torch.float64)
    lam = torch.tensor([0.5, 0.6, 0.8, 1.0], dtype=torch.float64)
    assert float(HF.mimix_loss(ones, ones, lam, torch.tensor([1, 2, 3, 0]))) == pytest.approx(math.log(4), abs=1e-12)
    zm, zp = _randn(4, 3, seed=44), _randn(4, 3, seed=45)
    full = HF.mimix_loss(zm, zp, torch.ones(4, dtype=torch.float64), torch.tensor([1, 2, 3, 0]))
    other_mix = HF.mimix_loss(zm, zp, torch.ones(4, dtype=torch.float64), torch.tensor([3, 0, 1, 2]))
    torch.testing.assert_close(full, other_mix, atol=ATOL, rtol=0)


def test_mimix_permutation_invariance_and_gradcheck() -> None:
    zm, zp = _randn(5, 4, seed=46), _randn(5, 4, seed=47)
    lam = torch.tensor([0.5, 0.7, 0.8, 0.9, 0.6], dtype=torch.float64)
    mix = torch.tensor([1, 0, 3, 4, 2])
    perm = torch.tensor([2, 4, 0, 1, 3])
    inverse = torch.argsort(perm)
    base = HF.mimix_loss(zm, zp, lam, mix)
    torch.testing.assert_close(base, HF.mimix_loss(zm[perm], zp[perm], lam[perm], inverse[mix[perm]]),
                               atol=ATOL, rtol=0)
    a, b = _randn(3, 3, seed=48).requires_grad_(), _randn(3, 3, seed=49).requires_grad_()
    weights = torch.tensor([0.6, 0.9, 0.75], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y, w: HF.mimix_loss(x, y, w, torch.tensor([2, 0, 1]), tau=0.2),
                                    (a, b, weights))


# ---------------------------------------------------------------- TNCE

@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("weights", [(0.0, 0.0), (1.5, 0.5), (3.0, 0.0), (0.0, 2.0)])
def test_tnce_matches_loop(symmetric: bool, weights: tuple[float, float]) -> None:
    audio, text, rev = _tnce_batch(3, seed=50)
    a_same, a_cross = weights
    got = HF.tnce_loss(audio, text, reverse_index=rev, a_same=a_same, a_cross=a_cross, logit_scale=1.2,
                       symmetric=symmetric)
    assert abs(float(got) - ref_tnce(audio, text, rev, a_same, a_cross, 1.2, symmetric)) < ATOL


def test_tnce_local_rows_against_global_columns() -> None:
    audio, text, rev = _tnce_batch(3, seed=51)
    local = torch.tensor([1, 4, 7])
    got = HF.tnce_loss(audio[local], text, reverse_index=rev, labels=local, a_same=1.0, a_cross=0.5,
                       logit_scale=0.8, symmetric=False)
    expected = ref_tnce(audio[local], text, rev, 1.0, 0.5, 0.8, False, labels=local)
    assert abs(float(got) - expected) < ATOL


def test_tnce_without_extra_weights_is_symmetric_clip() -> None:
    audio, text, rev = _tnce_batch(2, seed=52)
    got = HF.tnce_loss(audio, text, reverse_index=rev, a_same=0.0, a_cross=0.0, logit_scale=1.0)
    torch.testing.assert_close(got, HF.clip_loss(audio, text, logit_scale=1.0, symmetric=True), atol=ATOL, rtol=0)


def test_tnce_equal_similarities_closed_form() -> None:
    pairs, a_same, a_cross = 3, 2.0, 0.5
    ones = torch.ones(3 * pairs, 4, dtype=torch.float64)
    _, _, rev = _tnce_batch(pairs)
    ordered_row = math.log(3 * pairs + a_same + a_cross * (2 * pairs - 2))
    overlap_row = math.log(3 * pairs + a_cross * 2 * pairs)
    expected = (2 * pairs * ordered_row + pairs * overlap_row) / (3 * pairs)
    got = HF.tnce_loss(ones, ones, reverse_index=rev, a_same=a_same, a_cross=a_cross, logit_scale=2.0)
    assert float(got) == pytest.approx(expected, abs=1e-12)


def test_tnce_reversal_weight_raises_loss_and_layout_does_not_matter() -> None:
    audio, text, rev = _tnce_batch(3, seed=53)
    plain = HF.tnce_loss(audio, text, reverse_index=rev, a_same=0.0, a_cross=0.0, logit_scale=1.0)
    weighted = HF.tnce_loss(audio, text, reverse_index=rev, a_same=2.0, a_cross=0.5, logit_scale=1.0)
    assert float(weighted) > float(plain)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    inverse = torch.argsort(perm)
    rev_perm = torch.where(rev[perm] >= 0, inverse[rev[perm].clamp(min=0)], torch.full_like(rev, -1))
    permuted = HF.tnce_loss(audio[perm], text[perm], reverse_index=rev_perm, a_same=2.0, a_cross=0.5, logit_scale=1.0)
    torch.testing.assert_close(weighted, permuted, atol=ATOL, rtol=0)


def test_tnce_gradcheck_and_validation() -> None:
    audio, text, rev = _tnce_batch(2, seed=54)
    audio, text = audio.requires_grad_(), text.requires_grad_()
    scale = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, t, s: HF.tnce_loss(a, t, reverse_index=rev, a_same=1.5, a_cross=0.5, logit_scale=s),
        (audio, text, scale))
    with pytest.raises(ValueError, match="both ways"):
        HF.tnce_loss(audio, text, reverse_index=torch.tensor([2, 3, 1, 0, -1, -1]), a_same=1.0, a_cross=1.0)
    with pytest.raises(ValueError, match="exceed -1"):
        HF.tnce_loss(audio, text, reverse_index=rev, a_same=-1.0, a_cross=0.0)


# ---------------------------------------------------------------- SupCon and MoCo InfoNCE

def test_supcon_matches_loop() -> None:
    features = _randn(5, 2, 4, seed=60)
    labels = torch.tensor([0, 1, 0, 2, 1])
    for lab in (labels, None):
        assert abs(float(HF.supcon_loss(features, lab, tau=0.2)) - ref_supcon(features, lab, 0.2)) < ATOL
    three_views = _randn(4, 3, 3, seed=61)
    assert abs(float(HF.supcon_loss(three_views, torch.tensor([1, 1, 0, 2]), tau=0.5))
               - ref_supcon(three_views, torch.tensor([1, 1, 0, 2]), 0.5)) < ATOL


def test_supcon_mask_equals_labels_and_skips_anchors_without_positives() -> None:
    features = _randn(5, 2, 4, seed=62)
    labels = torch.tensor([0, 1, 0, 2, 1])
    mask = labels[:, None] == labels[None, :]
    torch.testing.assert_close(HF.supcon_loss(features, tau=0.2, mask=mask), HF.supcon_loss(features, labels, tau=0.2),
                               atol=ATOL, rtol=0)
    one_view = _randn(4, 1, 3, seed=63)
    lab = torch.tensor([0, 0, 1, 2])  # samples 2 and 3 have no positive
    assert abs(float(HF.supcon_loss(one_view, lab, tau=0.3)) - ref_supcon(one_view, lab, 0.3)) < ATOL


def test_supcon_closed_form_local_rows_invariance_and_gradcheck() -> None:
    ones = torch.ones(4, 2, 3, dtype=torch.float64)
    assert float(HF.supcon_loss(ones)) == pytest.approx(math.log(2 * 4 - 1), abs=1e-12)
    features = _randn(6, 2, 3, seed=64)
    labels = torch.tensor([0, 1, 0, 1, 2, 2])
    full = HF.supcon_loss(features, labels, tau=0.3)
    halves = [HF.supcon_loss(features[i:i + 3], labels[i:i + 3], tau=0.3, features_all=features, labels_all=labels,
                             offset=i) for i in (0, 3)]
    torch.testing.assert_close(full, 0.5 * (halves[0] + halves[1]), atol=ATOL, rtol=0)
    perm = torch.tensor([5, 2, 0, 4, 1, 3])
    torch.testing.assert_close(full, HF.supcon_loss(features[perm], labels[perm], tau=0.3), atol=ATOL, rtol=0)
    x = _randn(3, 2, 3, seed=65).requires_grad_()
    assert torch.autograd.gradcheck(lambda f: HF.supcon_loss(f, torch.tensor([0, 0, 1]), tau=0.3), (x,))


def test_info_nce_queue_matches_loop_and_closed_form() -> None:
    q, k, queue = _randn(4, 5, seed=70), _randn(4, 5, seed=71), _randn(7, 5, seed=72)
    assert abs(float(HF.info_nce(q, k, queue, tau=0.1)) - ref_info_nce_queue(q, k, queue, 0.1)) < ATOL
    assert abs(float(HF.info_nce(q, k, tau=0.1)) - ref_clip(q, k, None, -math.log(0.1))) < ATOL
    ones = torch.ones(3, 2, dtype=torch.float64)
    uniform_queue = torch.ones(9, 2, dtype=torch.float64)
    assert float(HF.info_nce(ones, ones, uniform_queue)) == pytest.approx(math.log(10), abs=1e-12)
    a, b = _randn(3, 3, seed=73).requires_grad_(), _randn(3, 3, seed=74).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: HF.info_nce(x, y, _randn(5, 3, seed=75), tau=0.2), (a, b))
