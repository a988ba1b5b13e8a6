"""SimpleConv: the brain encoder of Défossez et al. 2023 (brainmagick's ``SimpleConv``).

The layers, in order (Défossez et al. 2023, "Model"):

1. spatial attention: each sensor's 2-D layout position in [0, 1] gets a Fourier embedding
   (32 frequencies per axis, cos and sin, over [-0.2, 1.2]); each of 270 heads scores the
   sensors with a learnt vector and takes a softmax over them, so the output has 270
   virtual channels whatever the sensor count. Masked sensors (bad, unknown position,
   padding) get no weight. During training one random centre per batch bans all sensors
   within radius 0.2 (spatial dropout);
2. a 1x1 convolution 270 -> 270 without activation;
3. a subject layer: one 270 x 270 matrix per subject, no bias; optionally one more matrix
   shared by all subjects and trained alongside (each training window uses it with
   probability ``unseen_subject_prob``), used for subjects never seen in training;
4. five blocks, each two residual dilated convolutions (kernel 3, dilations 1, 2, 4, 8, 16
   cycled; conv -> BatchNorm -> GELU; 320 channels) and a kernel-3 convolution 320 -> 640
   with a GLU back to 320;
5. a head: 1x1 convolution 320 -> 640, GELU, 1x1 transposed convolution 640 -> F.

The time resolution (120 Hz) is kept end to end. At the paper's width with F = 1024 this
is 7,596,754 shared parameters plus 72,900 (270 x 270) per subject.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from biocl.encoders.base import Encoder, register_encoder

__all__ = ["FourierEmbedding", "SpatialAttention", "SubjectLayers", "SimpleConv"]


class FourierEmbedding(nn.Module):
    """Fourier features of 2-D positions: ``n_freqs**2`` cosines and as many sines.

    Parameters
    ----------
    n_freqs : int
        Frequencies per axis.
    margin : float
        Positions in [0, 1] are embedded over [-margin, 1 + margin], so that the lowest
        frequency does not wrap sensors at opposite edges onto each other.
    """

    def __init__(self, n_freqs: int = 32, margin: float = 0.2):
        super().__init__()
        self.n_freqs = n_freqs
        self.margin = margin

    @property
    def dim(self) -> int:
        """Embedding size."""
        return 2 * self.n_freqs * self.n_freqs

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """Embed positions (..., 2) in [0, 1] as (..., 2 * n_freqs**2)."""
        freqs = torch.arange(self.n_freqs, device=positions.device, dtype=positions.dtype)
        width = 1.0 + 2.0 * self.margin
        shifted = positions + self.margin
        p_x = 2 * math.pi * freqs[:, None] / width
        p_y = 2 * math.pi * freqs[None, :] / width
        x = shifted[..., 0, None, None]
        y = shifted[..., 1, None, None]
        loc = (x * p_x + y * p_y).flatten(-2)
        return torch.cat([torch.cos(loc), torch.sin(loc)], dim=-1)


class SpatialAttention(nn.Module):
    """Softmax attention over sensors from their positions: (B, C, T) -> (B, heads, T).

    Parameters
    ----------
    n_heads : int
        Virtual output channels.
    n_freqs : int
        Fourier frequencies per axis of the position embedding.
    margin : float
        Embedding margin (layout units).
    dropout_radius : float
        Training-time spatial dropout radius (layout units); 0 disables it.
    """

    def __init__(self, n_heads: int = 270, n_freqs: int = 32, margin: float = 0.2, dropout_radius: float = 0.2):
        super().__init__()
        self.embedding = FourierEmbedding(n_freqs, margin)
        self.dropout_radius = dropout_radius
        self.heads = nn.Parameter(torch.randn(n_heads, self.embedding.dim) * (2 * self.embedding.dim) ** -0.5)
        # The weights depend on the layout only (positions and usable sensors), not on the
        # data: windows of one recording share them, so they are computed once per distinct
        # layout in the batch. False computes them window by window (the plain path that the
        # parity tests compare against).
        self.share_layouts = True

    def forward(self, brain: torch.Tensor, positions: torch.Tensor, position_mask: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Merge sensors into virtual channels.

        Parameters
        ----------
        brain : tensor (B, C, T)
        positions : tensor (B, C, 2)
            Sensor positions in [0, 1].
        position_mask : tensor (B, C) bool
            False for sensors to ignore.
        generator : torch.Generator | None
            Draws the spatial-dropout centre in training; without one, no dropout is applied
            (the model never touches the global random state).
        """
        keep = self.usable_sensors(positions, position_mask, generator)
        if not self.share_layouts:
            weights = self.layout_weights(positions, keep)
            return torch.einsum("bct,boc->bot", brain, weights.to(brain.dtype))
        weights, layout = self.shared_weights(positions, keep)
        weights = weights.to(brain.dtype)
        if weights.shape[0] == 1:
            return torch.einsum("bct,oc->bot", brain, weights[0])
        # A one-hot product rather than ``weights[layout]``: its backward sums repeated
        # layouts in a fixed order (see SubjectLayers).
        one_hot = torch.nn.functional.one_hot(layout, weights.shape[0]).to(brain.dtype)
        per_window = torch.einsum("bu,uoc->boc", one_hot, weights)
        return torch.einsum("bct,boc->bot", brain, per_window)

    def usable_sensors(self, positions: torch.Tensor, position_mask: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """The mask (B, C) of sensors that get weight: ``position_mask`` less spatial dropout."""
        keep = position_mask.clone()
        if self.training and self.dropout_radius > 0 and generator is not None:
            centre = torch.rand(2, generator=generator).to(device=positions.device, dtype=positions.dtype)
            banned = (positions - centre).norm(dim=-1) <= self.dropout_radius
            dropped = keep & ~banned
            # A window whose every usable sensor lies in the banned disc keeps them all:
            # a softmax over nothing has no meaning.
            keep = torch.where(dropped.any(dim=1, keepdim=True), dropped, keep)
        return keep

    def shared_weights(self, positions: torch.Tensor, keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights (U, heads, C) of the U distinct layouts of a batch, and each window's layout (B,).

        Spatial dropout draws one centre per batch, so windows with the same positions and
        mask also share ``keep``.
        """
        key = torch.cat([positions.flatten(1), keep.to(positions.dtype)], dim=1)
        layouts, layout = torch.unique(key, dim=0, return_inverse=True)
        first = torch.empty(layouts.shape[0], dtype=torch.long, device=key.device)
        first.scatter_(0, layout, torch.arange(key.shape[0], device=key.device))
        return self.layout_weights(positions[first], keep[first]), layout

    def layout_weights(self, positions: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Softmax weights (L, heads, C) of L layouts: positions (L, C, 2), usable sensors (L, C)."""
        embedding = self.embedding(positions)
        scores = torch.einsum("bcd,od->boc", embedding, self.heads.to(embedding.dtype))
        scores = scores.masked_fill(~keep[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        # Padded rows with no usable sensor at all give NaN weights; they carry no data.
        return torch.nan_to_num(weights, nan=0.0)


class SubjectLayers(nn.Module):
    """One bias-free C x C matrix per subject (plus an optional shared one at index -1).

    Parameters
    ----------
    channels : int
        Input and output channels.
    n_subjects : int
        Known subjects, indexed 0 .. n_subjects - 1.
    shared : bool
        Add a matrix used for index -1 (a subject not seen in training).
    """

    def __init__(self, channels: int, n_subjects: int, shared: bool = False):
        super().__init__()
        self.n_subjects = n_subjects
        self.shared = shared
        weights = torch.randn(n_subjects + int(shared), channels, channels) / channels**0.5
        self.weights = nn.Parameter(weights)

    def forward(self, x: torch.Tensor, subjects: torch.Tensor) -> torch.Tensor:
        """Apply each window's subject matrix: x (B, C, T), subjects (B,) long."""
        return torch.einsum("bct,bcd->bdt", x, self.matrices(self.indices(subjects), x.dtype))

    def indices(self, subjects: torch.Tensor) -> torch.Tensor:
        """Rows of ``weights`` for subject indices (-1, an unseen subject, is the shared matrix)."""
        if (subjects < 0).any() and not self.shared:
            raise ValueError("subject index -1 (unseen subject) needs the shared subject layer "
                             "(model.unseen_subject: true)")
        if (subjects >= self.n_subjects).any():
            raise ValueError(f"subject index out of range: the model knows {self.n_subjects} subjects")
        return torch.where(subjects < 0, torch.full_like(subjects, self.n_subjects), subjects)

    def matrices(self, index: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The (N, C, C) matrices of rows ``index`` (N,), input channels first."""
        # A one-hot product rather than ``weights[index]``: the backward of indexing adds the
        # gradients of repeated subjects in a thread-dependent order, a matrix product does not.
        one_hot = torch.nn.functional.one_hot(index, self.weights.shape[0]).to(dtype)
        return torch.einsum("bs,scd->bcd", one_hot, self.weights.to(dtype))


class _ConvBlock(nn.Module):
    """Two residual dilated convs (conv -> BN -> GELU) then a kernel-3 conv with GLU."""

    def __init__(self, in_channels: int, hidden: int, dilations: tuple[int, int], kernel: int = 3,
                 glu_kernel: int = 3):
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        channels = in_channels
        for dilation in dilations:
            self.convs.append(nn.Conv1d(channels, hidden, kernel, dilation=dilation,
                                        padding=dilation * (kernel - 1) // 2))
            self.norms.append(nn.BatchNorm1d(hidden))
            channels = hidden
        self.glu = nn.Conv1d(hidden, 2 * hidden, glu_kernel, padding=glu_kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            y = torch.nn.functional.gelu(norm(conv(x)))
            x = x + y if y.shape == x.shape else y
        return torch.nn.functional.glu(self.glu(x), dim=1)


@register_encoder("simple_conv")
class SimpleConv(Encoder):
    """The brain encoder of Défossez et al. 2023: sensors (B, C, T) -> features (B, F, T).

    Parameters
    ----------
    n_subjects : int
        Subjects seen in training (indices 0 .. n_subjects - 1).
    output_dim : int
        Speech feature dimension F (1024 for wav2vec 2.0 large, 120 for mel).
    n_heads : int
        Spatial-attention heads (virtual channels), 270 in the paper.
    hidden : int
        Channels of the convolutional blocks, 320 in the paper.
    n_blocks : int
        Convolutional blocks, 5 in the paper.
    n_freqs : int
        Fourier frequencies per axis of the position embedding.
    spatial_dropout_radius : float
        Training-time spatial dropout radius (layout units).
    unseen_subject : bool
        Learn a shared subject layer alongside the per-subject ones (index -1).
    unseen_subject_prob : float
        In training, the probability that a window uses the shared layer instead of its own.
    subject_layers : bool
        Use subject layers at all (ablation).
    head_hidden : int | None
        Width of the head's hidden 1x1 conv (default ``2 * hidden``).
    """

    modality = "brain"

    def __init__(self, n_subjects: int = 1, output_dim: int = 1024, *, n_heads: int = 270, hidden: int = 320,
                 n_blocks: int = 5, n_freqs: int = 32, spatial_dropout_radius: float = 0.2,
                 unseen_subject: bool = False, unseen_subject_prob: float = 0.1, subject_layers: bool = True,
                 head_hidden: int | None = None):
        super().__init__()
        self.output_dim = output_dim
        self.n_subjects = n_subjects
        self.unseen_subject_prob = unseen_subject_prob if unseen_subject else 0.0
        self.spatial = SpatialAttention(n_heads, n_freqs, dropout_radius=spatial_dropout_radius)
        self.initial = nn.Conv1d(n_heads, n_heads, 1)
        self.subject_layers = SubjectLayers(n_heads, n_subjects, shared=unseen_subject) if subject_layers else None
        self.blocks = nn.ModuleList()
        dilation_cycle = (1, 2, 4, 8, 16)
        channels = n_heads
        for k in range(n_blocks):
            dilations = (dilation_cycle[(2 * k) % 5], dilation_cycle[(2 * k + 1) % 5])
            self.blocks.append(_ConvBlock(channels, hidden, dilations))
            channels = hidden
        head_hidden = head_hidden or 2 * hidden
        self.head = nn.Sequential(nn.Conv1d(channels, head_hidden, 1), nn.GELU(),
                                  nn.ConvTranspose1d(head_hidden, output_dim, 1))

    def forward(self, brain: torch.Tensor, subjects: torch.Tensor, positions: torch.Tensor,
                position_mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Encode brain windows.

        Parameters
        ----------
        brain : tensor (B, C, T)
            Preprocessed brain windows (robust-scaled units), T samples at 120 Hz.
        subjects : tensor (B,) long
            Subject indices; -1 for a subject not seen in training.
        positions : tensor (B, C, 2)
            Sensor layout positions in [0, 1].
        position_mask : tensor (B, C) bool
            False for bad, position-less or padding channels.
        generator : torch.Generator | None
            Randomness of training-time spatial dropout and unseen-subject sampling.

        Returns
        -------
        tensor (B, output_dim, T)
        """
        if self.spatial.share_layouts:
            x = self._merged_front(brain, subjects, positions, position_mask, generator)
        else:
            x = self.initial(self.spatial(brain, positions, position_mask, generator))
            if self.subject_layers is not None:
                x = self.subject_layers(x, self._training_subjects(subjects, generator))
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def _training_subjects(self, subjects: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """``subjects`` with, in training, each window sent to the shared layer (-1) with its probability."""
        if self.training and self.unseen_subject_prob > 0 and generator is not None:
            use_shared = torch.rand(subjects.shape[0], generator=generator) < self.unseen_subject_prob
            subjects = torch.where(use_shared.to(subjects.device), torch.full_like(subjects, -1), subjects)
        return subjects

    def _merged_front(self, brain: torch.Tensor, subjects: torch.Tensor, positions: torch.Tensor,
                      position_mask: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Spatial attention, initial 1x1 conv and subject layer as one matrix per window.

        All three are linear in the data: S_b^T (W (A_b x) + w0) = (S_b^T W A_b) x + S_b^T w0.
        The product is formed once per distinct (layout, subject) pair of the batch and applied
        to the data once, instead of three products over every time sample (the same maths
        in another order of the sums; the parity tests compare it with the plain path).
        """
        keep = self.spatial.usable_sensors(positions, position_mask, generator)
        weights, layout = self.spatial.shared_weights(positions, keep)
        dtype = brain.dtype
        merged = torch.einsum("oi,uic->uoc", self.initial.weight[:, :, 0].to(dtype), weights.to(dtype))
        bias = self.initial.bias.to(dtype)
        if self.subject_layers is None:
            pair, per_pair, pair_bias = layout, merged, bias.expand(merged.shape[0], -1)
        else:
            index = self.subject_layers.indices(self._training_subjects(subjects, generator))
            pairs, pair = torch.unique(torch.stack([layout, index], dim=1), dim=0, return_inverse=True)
            matrices = self.subject_layers.matrices(pairs[:, 1], dtype)
            layout_one_hot = torch.nn.functional.one_hot(pairs[:, 0], merged.shape[0]).to(dtype)
            per_pair = torch.einsum("pcd,pce->pde", matrices, torch.einsum("pu,uce->pce", layout_one_hot, merged))
            pair_bias = torch.einsum("pcd,c->pd", matrices, bias)
        if per_pair.shape[0] == 1:
            return torch.einsum("bct,oc->bot", brain, per_pair[0]) + pair_bias[0][:, None]
        one_hot = torch.nn.functional.one_hot(pair, per_pair.shape[0]).to(dtype)
        per_window = torch.einsum("bp,poc->boc", one_hot, per_pair)
        return torch.einsum("bct,boc->bot", brain, per_window) + (one_hot @ pair_bias)[:, :, None]

    def shared_parameter_count(self) -> int:
        """Parameters shared by every subject (all but the per-subject matrices)."""
        total = sum(p.numel() for p in self.parameters())
        if self.subject_layers is None:
            return total
        per = self.subject_layers.weights[0].numel()
        return total - per * self.n_subjects

    def per_subject_parameter_count(self) -> int:
        """Parameters added by each subject (its subject-layer matrix)."""
        return 0 if self.subject_layers is None else self.subject_layers.weights[0].numel()

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None,
                       n_channels: int = 12, n_times: int = 61) -> dict[str, Any]:
        """Random windows of ``n_channels`` sensors, two of them masked, over ``n_times`` samples."""
        mask = torch.ones(batch_size, n_channels, dtype=torch.bool)
        mask[:, -2:] = False
        return {
            "brain": torch.randn(batch_size, n_channels, n_times, generator=generator),
            "subjects": torch.randint(0, self.n_subjects, (batch_size,), generator=generator),
            "positions": torch.rand(batch_size, n_channels, 2, generator=generator),
            "position_mask": mask,
        }

    def output_shape(self, batch_size: int, n_times: int = 61) -> tuple[int, ...]:
        """(batch, output_dim, n_times): the time axis is kept."""
        return (batch_size, self.output_dim, n_times)

    @classmethod
    def tiny(cls) -> SimpleConv:
        """Two subjects, 8 heads, 16 hidden channels, 2 blocks, 6 output features."""
        return cls(n_subjects=2, output_dim=6, n_heads=8, hidden=16, n_blocks=2, n_freqs=4)
