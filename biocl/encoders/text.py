"""An order-aware text encoder for captions, and the word-level tokenizer it reads.

"dog before siren" and "siren before dog" hold the same words; a bag of words cannot tell
them apart. :class:`TextTransformer` adds a learned position embedding to every token and
runs a small pre-norm transformer, reading the caption from its ``[CLS]`` token, so word
order changes the embedding.

:class:`WordTokenizer` is built from the captions a project uses (lower-cased words,
sorted, after ``[PAD]``, ``[UNK]`` and ``[CLS]``) and saved next to the model as JSON,
so a checkpoint always comes with the vocabulary it was trained with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biocl.encoders.base import Encoder, register_encoder
from biocl.utils.errors import BioclError

__all__ = ["WordTokenizer", "TextTransformer", "SPECIAL_TOKENS"]

#: The tokens every vocabulary starts with, ids 0, 1 and 2: padding, unknown word, caption start.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]")
PAD_ID, UNK_ID, CLS_ID = 0, 1, 2
_WORD = re.compile(r"[a-z0-9']+")


class WordTokenizer:
    """Lower-cased word tokens mapped to ids; unknown words map to ``[UNK]``.

    Parameters
    ----------
    vocabulary : sequence of str
        The tokens, starting with ``[PAD]``, ``[UNK]``, ``[CLS]`` (ids 0, 1, 2).
    """

    def __init__(self, vocabulary: Sequence[str]):
        vocabulary = list(vocabulary)
        if tuple(vocabulary[:3]) != SPECIAL_TOKENS:
            raise BioclError(f"a vocabulary must start with {', '.join(SPECIAL_TOKENS)}")
        if len(set(vocabulary)) != len(vocabulary):
            raise BioclError("a vocabulary must not repeat tokens")
        self.vocabulary = vocabulary
        self._ids = {token: i for i, token in enumerate(vocabulary)}

    @staticmethod
    def words(text: str) -> list[str]:
        """The lower-cased words of ``text`` (letters, digits and apostrophes)."""
        return _WORD.findall(text.lower())

    @classmethod
    def build(cls, texts: Iterable[str]) -> WordTokenizer:
        """A tokenizer whose vocabulary is every word of ``texts``, sorted (deterministic)."""
        words = sorted({word for text in texts for word in cls.words(text)})
        return cls([*SPECIAL_TOKENS, *words])

    def __len__(self) -> int:
        return len(self.vocabulary)

    def unknown_words(self, texts: Iterable[str]) -> list[str]:
        """Words of ``texts`` that the vocabulary lacks (they would read as ``[UNK]``)."""
        return sorted({w for t in texts for w in self.words(t) if w not in self._ids})

    def encode(self, texts: Sequence[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask for a batch of captions.

        Each caption becomes ``[CLS] w1 w2 ...``, cut to ``max_tokens`` tokens and padded
        with ``[PAD]`` to the longest caption of the batch.

        Returns
        -------
        token_ids : LongTensor of shape (batch, length)
        attention_mask : BoolTensor of shape (batch, length)
            True where there is a token, False on padding.
        """
        rows = [[CLS_ID, *(self._ids.get(w, UNK_ID) for w in self.words(t))][:max_tokens] for t in texts]
        length = max((len(r) for r in rows), default=1)
        ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        return ids, ids != PAD_ID

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description (``{"kind": "word", "vocabulary": [...]}``)."""
        return {"kind": "word", "vocabulary": list(self.vocabulary)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WordTokenizer:
        """The tokenizer :meth:`to_json` described."""
        if data.get("kind") != "word" or "vocabulary" not in data:
            raise BioclError("not a biocl word tokenizer description")
        return cls(data["vocabulary"])

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as JSON (atomically)."""
        from biocl.utils.io import write_json

        return write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BioclError("tokenizer file not found", path=path,
                             hint="a model folder holds tokenizer.json next to its weights") from None
        except (OSError, json.JSONDecodeError) as err:
            raise BioclError(f"cannot read the tokenizer ({err})", path=path) from None
        try:
            return cls.from_json(data)
        except BioclError as err:
            raise BioclError(err.message, path=path) from None


@register_encoder("text_transformer")
class TextTransformer(Encoder):
    """Token and position embeddings, a pre-norm transformer, the ``[CLS]`` output.

    Parameters
    ----------
    vocab_size : int
        Tokens in the vocabulary (ids ``0..vocab_size-1``; 0 is padding).
    d_model : int
        Width of the embeddings and of every layer; also the output dimension.
    n_layers : int
        Transformer layers (``layers.0`` ... ``layers.{n_layers-1}``).
    n_heads : int
        Attention heads per layer (must divide ``d_model``).
    ff_dim : int
        Hidden width of each layer's feed-forward block.
    max_tokens : int
        Longest caption in tokens (``[CLS]`` included); sets the position table.
    dropout : float
        Dropout inside the layers during training (none in evaluation).
    """

    modality = "text"

    def __init__(self, vocab_size: int, d_model: int = 64, n_layers: int = 2, n_heads: int = 4, ff_dim: int = 128,
                 max_tokens: int = 16, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise BioclError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.vocab_size, self.max_tokens, self.output_dim = vocab_size, max_tokens, d_model
        self.token_embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD_ID)
        self.position_embedding = nn.Embedding(max_tokens, d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, n_heads, ff_dim, dropout=dropout, batch_first=True, norm_first=True)
            for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.02)

    def forward(self, token_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Embed captions.

        Parameters
        ----------
        token_ids : LongTensor of shape (batch, length)
            Ids from :meth:`WordTokenizer.encode`, starting with ``[CLS]``.
        attention_mask : BoolTensor of shape (batch, length) | None
            True on tokens, False on padding (default: every id that is not ``[PAD]``).

        Returns
        -------
        Tensor of shape (batch, d_model)
            The ``[CLS]`` output after the final layer norm.
        """
        if token_ids.shape[1] > self.max_tokens:
            raise BioclError(f"a caption has {token_ids.shape[1]} tokens; this model reads at most {self.max_tokens}")
        if attention_mask is None:
            attention_mask = token_ids != PAD_ID
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)
        hidden = self.token_embedding(token_ids) + self.position_embedding(positions)[None]
        padding = ~attention_mask.bool()
        for layer in self.layers:
            hidden = layer(hidden, src_key_padding_mask=padding)
        return self.norm(hidden[:, 0])

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Random token ids (``[CLS]`` first) with the last position padded in the first row."""
        length = min(6, self.max_tokens)
        ids = torch.randint(3, self.vocab_size, (batch_size, length), generator=generator)
        ids[:, 0] = CLS_ID
        ids[0, -1] = PAD_ID
        return {"token_ids": ids, "attention_mask": ids != PAD_ID}

    @classmethod
    def tiny(cls) -> TextTransformer:
        """A 1-layer, 16-wide model over 20 tokens."""
        return cls(vocab_size=20, d_model=16, n_layers=1, n_heads=2, ff_dim=32, max_tokens=8)

    def spec(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild the model from a checkpoint."""
        first = self.layers[0] if len(self.layers) else None
        return {"vocab_size": self.vocab_size, "d_model": self.output_dim, "n_layers": len(self.layers),
                "n_heads": first.self_attn.num_heads if first is not None else 1,
                "ff_dim": first.linear1.out_features if first is not None else 4 * self.output_dim,
                "max_tokens": self.max_tokens, "dropout": float(first.dropout.p) if first is not None else 0.0}
