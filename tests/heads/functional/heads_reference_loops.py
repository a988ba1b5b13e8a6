"""Plain-loop float64 references of every pure loss, and the inputs the loss tests share.

Imported by the tests beside it (``sys.path`` is extended by each test module, as tests run
with ``--import-mode=importlib``).
"""

from __future__ import annotations

import math

import torch


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


def ref_tnce(queries, candidates, rev, a_same, a_cross, log_scale, symmetric, labels=None) -> float:
    scale = 1.0 if log_scale is None else math.exp(log_scale)
    rev = [int(v) for v in rev]
    labels = list(range(queries.shape[0])) if labels is None else [int(v) for v in labels]
    forward = _tnce_direction(_rows(queries), _rows(candidates), rev, a_same, a_cross, scale, labels)
    loss = sum(forward) / len(forward)
    if not symmetric:
        return loss
    backward = _tnce_direction(_rows(candidates), _rows(queries), rev, a_same, a_cross, scale, labels)
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

def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def tnce_batch(pairs: int, seed: int = 0):
    queries, candidates = randn(3 * pairs, 4, seed=seed), randn(3 * pairs, 4, seed=seed + 1)
    rev = torch.cat([torch.arange(pairs) + pairs, torch.arange(pairs), torch.full((pairs,), -1)])
    return queries, candidates, rev
