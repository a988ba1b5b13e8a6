"""Projection heads between an encoder's embedding and the contrastive space."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ProjectionHead"]

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class ProjectionHead(nn.Module):
    """An MLP (or linear) projection, optionally L2-normalised.

    DNABERT-S: ``ProjectionHead(768, 768, 128)`` (ReLU, no bias, normalised), used only in
    training.

    Parameters
    ----------
    in_dim : int
        Embedding dimension in.
    hidden_dim : int | None
        Hidden width; None gives a single linear layer.
    out_dim : int
        Contrastive dimension out.
    bias : bool
        Biases in the linear layers.
    normalize : bool
        L2-normalise the output.
    activation : {"relu", "gelu", "tanh"}
        Non-linearity after the hidden layer.
    """

    def __init__(self, in_dim: int, hidden_dim: int | None, out_dim: int, *, bias: bool = False,
                 normalize: bool = True, activation: str = "relu"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.normalize = normalize
        if hidden_dim is None:
            self.net = nn.Linear(in_dim, out_dim, bias=bias)
        else:
            self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim, bias=bias), _ACTIVATIONS[activation](),
                                     nn.Linear(hidden_dim, out_dim, bias=bias))
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        """Project ``x`` of shape (..., in_dim) to (..., out_dim)."""
        z = self.net(x)
        return torch.nn.functional.normalize(z, dim=-1) if self.normalize else z
