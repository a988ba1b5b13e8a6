"""Projection heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from biocl.heads.projection import ProjectionHead


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


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
