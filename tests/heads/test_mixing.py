"""MI-Mix draws and the mixing of hidden states."""

from __future__ import annotations

import collections

import pytest
import torch

from biocl.heads.mixing import mix_hidden, sample_layer, sample_mix


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


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
