"""The default DNA encoder: k-mer token embeddings, dilated residual convolutions, mean pooling.

Small enough to train in minutes on two CPU cores, and the same embedding interface as the
pretrained adapter (:mod:`biocl.encoders.pretrained.dnabert`), declared by :class:`DnaEncoder`:
``tokenize(windows) -> (tokens, mask)`` and ``forward(tokens, mask=None, mix=None) -> (n,
output_dim)``, so :func:`embed_sequences`, the trainer's step functions and MI-Mix treat both
alike.

Architecture (``dim`` channels)::

    overlapping k-mers (stride 1 bp) -> embedding -> [mix at layer 0]
    -> masked average over ``downsample`` tokens
    -> n_blocks x residual(LayerNorm, GELU, Conv1d dilation 2**i)  [mix before block i]
    -> LayerNorm -> masked mean over positions

Reverse complement: a sequence and its reverse complement come from the same genome, so in
evaluation the embedding is the average of both strands' embeddings (``both_strands``);
the reverse complement is computed on the token ids (no second tokenisation).

K-mers that overlap an ambiguous base (N) are masked like padding: a scaffold gap then
neither adds an "unknown" vector to the mean nor shifts the composition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from biocl.encoders.base import Encoder, register_encoder
from biocl.utils.console import progress
from biocl.utils.errors import BioclError

__all__ = [
    "KmerTokenizer",
    "DnaEncoder",
    "DnaConvEncoder",
    "MixSpec",
    "embed_sequences",
    "save_dna_encoder",
    "load_dna_encoder",
    "CHECKPOINT_KIND",
]

#: The ``kind`` a biocl DNA encoder checkpoint declares in its safetensors metadata.
CHECKPOINT_KIND = "biocl.dna_conv"

# ASCII code -> base index; A C G T (any case) are 0-3, everything else is ambiguous (4).
_BASE_INDEX = np.full(256, 4, dtype=np.int64)
for _i, _b in enumerate("ACGT"):
    _BASE_INDEX[ord(_b)] = _i
    _BASE_INDEX[ord(_b.lower())] = _i

MixSpec = tuple[int, torch.Tensor, torch.Tensor]
"""``(layer, lam, perm)``: mix hidden states before ``layer`` (0 = token embeddings)."""


class KmerTokenizer:
    """Overlapping k-mers (stride 1 bp) as integer ids; id 0 is padding and masked k-mers.

    Parameters
    ----------
    k : int
        K-mer length in bases (4 gives the 256 tetranucleotides, 6 gives 4,096 ids).
    """

    def __init__(self, k: int = 4):
        if not 1 <= k <= 8:
            raise ValueError(f"k must be between 1 and 8, got {k}")
        self.k = k
        self.vocab_size = 4**k + 1
        self._powers = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)

    def encode(self, seq: str) -> np.ndarray:
        """Ids of the ``len(seq) - k + 1`` overlapping k-mers; 0 where a k-mer holds an ambiguous base.

        Parameters
        ----------
        seq : str
            A DNA sequence (any case; characters other than ACGT count as ambiguous).

        Returns
        -------
        ids : ndarray of int64, shape (max(len(seq) - k + 1, 0),)
        """
        bases = _BASE_INDEX[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]
        n = bases.size - self.k + 1
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        windows = np.lib.stride_tricks.sliding_window_view(bases, self.k)
        ids = (np.minimum(windows, 3) * self._powers).sum(axis=1) + 1
        ids[(windows == 4).any(axis=1)] = 0
        return ids

    def batch(self, seqs: Sequence[str], max_tokens: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenise and right-pad a batch.

        Parameters
        ----------
        seqs : sequence of str
            DNA windows.
        max_tokens : int | None
            Truncate each row to this many k-mers (None keeps all).

        Returns
        -------
        tokens : LongTensor (n, L)
        mask : BoolTensor (n, L)
            True where the k-mer is real (not padding, no ambiguous base).
        """
        encoded = [self.encode(s)[:max_tokens] if max_tokens else self.encode(s) for s in seqs]
        width = max((e.size for e in encoded), default=0)
        tokens = np.zeros((len(encoded), max(width, 1)), dtype=np.int64)
        for row, ids in enumerate(encoded):
            tokens[row, : ids.size] = ids
        tokens_t = torch.from_numpy(tokens)
        return tokens_t, tokens_t > 0

    def reverse_complement_table(self) -> torch.Tensor:
        """``table[id]`` is the id of the reverse-complement k-mer (``table[0] == 0``)."""
        ids = np.arange(4**self.k)
        digits = (ids[:, None] // self._powers[None, :]) % 4
        rc = ((3 - digits[:, ::-1]) * self._powers[None, :]).sum(axis=1)
        return torch.from_numpy(np.concatenate([[0], rc + 1]))


class _ResidualBlock(nn.Module):
    def __init__(self, dim: int, kernel_size: int, dilation: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel_size, dilation=dilation, padding=dilation * (kernel_size // 2))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        update = self.conv(torch.nn.functional.gelu(self.norm(hidden)).transpose(1, 2)).transpose(1, 2)
        return (hidden + update) * mask.unsqueeze(-1).to(hidden.dtype)


class DnaEncoder(Encoder):
    """The embedding interface every DNA encoder offers, whatever its tokens and architecture.

    ``tokenize(windows) -> (tokens, mask)`` turns DNA windows into a padded batch,
    ``forward(tokens, mask=None, mix=None) -> (n, output_dim)`` embeds it, MI-Mixing the
    hidden states before layer ``mix[0]`` when asked (0 mixes the token embeddings, up to
    ``n_mix_layers - 1``), and :meth:`config` says how the encoder was built.
    ``averages_strands`` says whether ``forward`` also takes ``both_strands=`` (average a
    window's embedding with its reverse complement's), so a caller passes that option only
    to encoders that have it.
    """

    modality: ClassVar[str] = "dna"
    averages_strands: ClassVar[bool] = False

    @property
    def n_mix_layers(self) -> int:
        """Layers MI-Mix can mix before (0 = token embeddings)."""
        raise NotImplementedError

    def tokenize(self, windows: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (n, L) and attention mask (n, L) of a batch of DNA windows."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """How the encoder was built (for checkpoints and the run's model card)."""
        raise NotImplementedError


@register_encoder("dna_conv")
class DnaConvEncoder(DnaEncoder):
    """K-mer embedding + dilated residual convolutions, mean pooled; reverse-complement aware.

    Parameters
    ----------
    k : int
        K-mer length of the tokens (bases).
    dim : int
        Channels of every layer; also ``output_dim``.
    n_blocks : int
        Residual convolution blocks; block ``i`` has dilation ``2**i``. MI-Mix may mix before
        any of them (``n_mix_layers == n_blocks``; layer 0 mixes the token embeddings).
    kernel_size : int
        Convolution width (odd).
    downsample : int
        K-mers averaged into one position before the convolutions (speed: the convolutions
        see ``L / downsample`` positions).
    both_strands : bool
        Average the embeddings of a sequence and of its reverse complement (default for
        evaluation; training may pass ``both_strands=False`` to ``forward`` and flip strands
        at random instead, which costs half as much).
    max_tokens : int | None
        Tokens kept per window by :meth:`tokenize` (None keeps every k-mer).
    """

    averages_strands: ClassVar[bool] = True
    savable: ClassVar[bool] = True

    def __init__(self, k: int = 4, dim: int = 96, n_blocks: int = 4, kernel_size: int = 3,
                 downsample: int = 16, both_strands: bool = True, max_tokens: int | None = None):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if n_blocks < 1 or downsample < 1 or dim < 1:
            raise ValueError("n_blocks, downsample and dim must be positive")
        self.tokenizer = KmerTokenizer(k)
        self.k, self.dim, self.n_blocks = k, dim, n_blocks
        self.kernel_size, self.downsample = kernel_size, downsample
        self.both_strands, self.max_tokens = both_strands, max_tokens
        self.output_dim = dim
        self.embedding = nn.Embedding(self.tokenizer.vocab_size, dim, padding_idx=0)
        self.blocks = nn.ModuleList(_ResidualBlock(dim, kernel_size, 2**i) for i in range(n_blocks))
        self.final_norm = nn.LayerNorm(dim)
        self.register_buffer("rc_table", self.tokenizer.reverse_complement_table(), persistent=False)

    @property
    def n_mix_layers(self) -> int:
        """Layers MI-Mix can mix before: 0 (token embeddings) to ``n_blocks - 1``."""
        return self.n_blocks

    def config(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild this encoder from a checkpoint."""
        return {"k": self.k, "dim": self.dim, "n_blocks": self.n_blocks, "kernel_size": self.kernel_size,
                "downsample": self.downsample, "both_strands": self.both_strands, "max_tokens": self.max_tokens}

    def tokenize(self, windows: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """K-mer ids and mask of a batch of windows (see :meth:`KmerTokenizer.batch`)."""
        return self.tokenizer.batch(windows, self.max_tokens)

    def reverse_complement_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """The token ids of each row's reverse complement, right-padded like ``tokens``."""
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        valid = tokens > 0
        # The extent runs to the last real k-mer, so trailing padding stays trailing.
        extent = torch.where(valid, positions + 1, torch.zeros_like(positions)).amax(dim=1, keepdim=True)
        source = (extent - 1 - positions).clamp(min=0)
        flipped = self.rc_table[tokens.gather(1, source)]
        return torch.where(positions < extent, flipped, torch.zeros_like(flipped))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None, mix: MixSpec | None = None,
                both_strands: bool | None = None) -> torch.Tensor:
        """Embed a batch of tokenised windows.

        Parameters
        ----------
        tokens : LongTensor (n, L)
            K-mer ids from :meth:`tokenize`.
        mask : BoolTensor (n, L) | None
            Real k-mers; default ``tokens > 0``.
        mix : (layer, lam, perm) | None
            MI-Mix: before ``layer`` (0 = token embeddings), hidden states become
            ``lam_i h_i + (1 - lam_i) h_perm(i)`` via :func:`biocl.heads.mixing.mix_hidden`;
            the mask becomes the intersection of both rows' masks.
        both_strands : bool | None
            Average with the reverse complement's embedding (default ``self.both_strands``).

        Returns
        -------
        Tensor (n, output_dim)
        """
        mask = tokens > 0 if mask is None else mask & (tokens > 0)
        both = self.both_strands if both_strands is None else both_strands
        n = tokens.shape[0]
        if both:
            tokens = torch.cat([tokens, self.reverse_complement_tokens(tokens)])
            mask = tokens > 0
            if mix is not None:
                layer, lam, perm = mix
                mix = (layer, torch.cat([lam, lam]), torch.cat([perm, perm + n]))
        if mix is not None and not 0 <= mix[0] < self.n_mix_layers:
            raise ValueError(f"mix layer {mix[0]} outside 0..{self.n_mix_layers - 1}")
        if self.downsample > 1 and (mix is None or mix[0] != 0):
            hidden, mask = self._embed_downsampled(tokens, mask)
        else:
            hidden = self.embedding(tokens)
            hidden, mask = self._maybe_mix(hidden, mask, mix, 0)
            hidden, mask = self._downsample(hidden, mask)
        for index, block in enumerate(self.blocks):
            if index > 0:
                hidden, mask = self._maybe_mix(hidden, mask, mix, index)
            hidden = block(hidden, mask)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (self.final_norm(hidden) * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        if both:
            pooled = 0.5 * (pooled[:n] + pooled[n:])
        return pooled

    @staticmethod
    def _maybe_mix(hidden: torch.Tensor, mask: torch.Tensor, mix: MixSpec | None,
                   layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        if mix is None or mix[0] != layer:
            return hidden, mask
        from biocl.heads.mixing import mix_hidden

        _, lam, perm = mix
        mixed, mixed_mask = mix_hidden(hidden, lam.to(hidden.dtype), perm, attention_mask=mask)
        mixed_mask = mixed_mask.bool()
        return mixed * mixed_mask.unsqueeze(-1).to(mixed.dtype), mixed_mask

    def _embed_downsampled(self, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``_downsample(embedding(tokens))`` without the (n, L, dim) tensor of every k-mer's embedding.

        Each block of ``downsample`` k-mers is one bag of :func:`torch.nn.functional.embedding_bag`
        (masked k-mers become the padding id, which bags skip); the same sums in another
        order, about 15 x faster on a CPU, gradients included.
        """
        n, length = tokens.shape
        pad = (-length) % self.downsample
        ids = torch.nn.functional.pad(torch.where(mask, tokens, torch.zeros_like(tokens)), (0, pad))
        bags = ids.reshape(-1, self.downsample)
        summed = torch.nn.functional.embedding_bag(bags, self.embedding.weight, mode="sum", padding_idx=0)
        counts = (bags > 0).sum(1).to(summed.dtype)
        blocks = bags.shape[0] // n
        hidden = (summed / counts.clamp(min=1.0).unsqueeze(-1)).reshape(n, blocks, -1)
        return hidden, (counts > 0).reshape(n, blocks)

    def _downsample(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.downsample == 1:
            return hidden * mask.unsqueeze(-1).to(hidden.dtype), mask
        n, length, dim = hidden.shape
        pad = (-length) % self.downsample
        weights = torch.nn.functional.pad(mask.to(hidden.dtype), (0, pad))
        hidden = torch.nn.functional.pad(hidden, (0, 0, 0, pad)) * weights.unsqueeze(-1)
        blocks = length // self.downsample + (pad > 0)
        summed = hidden.reshape(n, blocks, self.downsample, dim).sum(2)
        counts = weights.reshape(n, blocks, self.downsample).sum(2)
        return summed / counts.clamp(min=1.0).unsqueeze(-1), counts > 0

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Random k-mer ids of 64 tokens per row with a padded tail on the last row."""
        tokens = torch.randint(1, self.tokenizer.vocab_size, (batch_size, 64), generator=generator)
        tokens[-1, 48:] = 0
        return {"tokens": tokens, "mask": tokens > 0}

    @classmethod
    def tiny(cls, checkpoint: str | Path | None = None) -> DnaConvEncoder:
        """A 2-block, 16-channel encoder for tests."""
        return cls(k=3, dim=16, n_blocks=2, downsample=2)

    def save(self, path: str | Path) -> str:
        """Write weights and constructor arguments to one safetensors file (:func:`save_dna_encoder`).

        Returns
        -------
        str
            SHA-256 of the written file, which :func:`load_dna_encoder` reads back.
        """
        return save_dna_encoder(self, path)


def embed_sequences(encoder: nn.Module, sequences: Sequence[str], *, window_bp: int = 10_000,
                    batch_size: int = 64, device: torch.device | str | None = None,
                    progress_label: str | None = None) -> np.ndarray:
    """Embed whole sequences: cut into windows, embed each, average per sequence by window length.

    Works for any :class:`DnaEncoder` (the default encoder and the pretrained adapter), or any
    module with ``tokenize(windows) -> (tokens, mask)`` and ``forward(tokens, mask) -> (n, d)``.

    Parameters
    ----------
    encoder : nn.Module
        The encoder (put in eval mode for the call and restored afterwards).
    sequences : sequence of str
        DNA sequences (bases).
    window_bp : int
        Window length in base pairs (the paper uses 10 kb); a sequence's last, shorter window
        is kept and weighted by its length.
    batch_size : int
        Windows per forward pass.
    device : torch.device | str | None
        Where to run (default: where the encoder's parameters are).
    progress_label : str | None
        Show the batches' progress under this name (a command's long embedding); None: silent.

    Returns
    -------
    ndarray of float32, shape (len(sequences), output_dim)
        One row per input sequence, in input order.
    """
    from biocl.data.dna.windows import split_windows

    if window_bp < 1:
        raise ValueError("window_bp must be positive")
    windows: list[str] = []
    owner: list[int] = []
    for index, seq in enumerate(sequences):
        pieces = split_windows(seq, window_bp) or [seq]
        windows.extend(pieces)
        owner.extend([index] * len(pieces))
    device = torch.device(device) if device is not None else _module_device(encoder)
    # Sorting by length keeps padding small; results go back to input order below.
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    window_embeddings: list[np.ndarray | None] = [None] * len(windows)
    was_training = encoder.training
    encoder.eval()
    try:
        with torch.inference_mode():
            starts = range(0, len(order), batch_size)
            if progress_label is not None:
                starts = progress(starts, total=len(starts), description=progress_label, unit="batch")
            for start in starts:
                chunk = order[start:start + batch_size]
                tokens, mask = encoder.tokenize([windows[i] for i in chunk])
                out = encoder(tokens.to(device), mask.to(device)).float().cpu().numpy()
                for row, index in enumerate(chunk):
                    window_embeddings[index] = out[row]
    finally:
        encoder.train(was_training)
    dim = int(getattr(encoder, "output_dim", window_embeddings[0].shape[0] if windows else 0))
    sums = np.zeros((len(sequences), dim), dtype=np.float64)
    totals = np.zeros(len(sequences), dtype=np.float64)
    for index, vector in enumerate(window_embeddings):
        weight = float(len(windows[index]))
        sums[owner[index]] += weight * vector
        totals[owner[index]] += weight
    return (sums / np.maximum(totals, 1.0)[:, None]).astype(np.float32)


def _module_device(module: nn.Module) -> torch.device:
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


def save_dna_encoder(encoder: DnaConvEncoder, path: str | Path) -> str:
    """Write the encoder's weights and constructor arguments to one safetensors file, atomically.

    Returns
    -------
    str
        SHA-256 of the written file.
    """
    from biocl.utils.weights import write_safetensors

    state = {name: tensor.detach().cpu().contiguous() for name, tensor in encoder.state_dict().items()}
    metadata = {"kind": CHECKPOINT_KIND, "config": json.dumps(encoder.config())}
    return write_safetensors(state, path, metadata)


def load_dna_encoder(path: str | Path) -> DnaConvEncoder:
    """Rebuild a :class:`DnaConvEncoder` written by :func:`save_dna_encoder`.

    Raises
    ------
    BioclError
        When the file is missing, is not a safetensors file, or was not written for this encoder.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise BioclError("model checkpoint not found", path=path,
                         hint="pass a file written by `biocl dna train` or a Hugging Face model folder")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise BioclError(f"not a readable safetensors checkpoint ({err})", path=path) from None
    if metadata.get("kind") != CHECKPOINT_KIND:
        raise BioclError("this checkpoint was not written for the default DNA encoder", path=path,
                         hint="use a file written by `biocl dna train` or `biocl dna bin --save-model`")
    encoder = DnaConvEncoder(**json.loads(metadata["config"]))
    try:
        encoder.load_state_dict(state)
    except RuntimeError as err:
        raise BioclError(f"checkpoint does not match its declared architecture ({err})", path=path) from None
    return encoder
