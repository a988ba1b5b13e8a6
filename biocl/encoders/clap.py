"""The compact biocl CLAP: a log-mel CNN and an order-aware text transformer, and loading saved CLAPs.

:class:`CompactClap` is trained from scratch on two CPU cores; :func:`load_clap` reads back
any saved dual encoder (this one, or a post-trained pretrained CLAP,
:class:`biocl.encoders.pretrained.clap.HFClapAdapter`). The interface both share is
:class:`biocl.encoders.dual.DualEncoder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biocl.encoders.audio import LogMelCNN
from biocl.encoders.base import register_encoder
from biocl.encoders.dual import CONFIG_FILE, MODEL_FILE, TOKENIZER_FILE, DualEncoder, fit_waveforms, read_model_config
from biocl.encoders.pretrained.clap import HFClapAdapter
from biocl.encoders.text import SPECIAL_TOKENS, TextTransformer, WordTokenizer
from biocl.heads.losses import CLIP_LOG_SCALE, LogitScale
from biocl.heads.projection import ProjectionHead
from biocl.utils.errors import BioclError

__all__ = ["CompactClap", "load_clap"]

#: Captions the tiny model of the contract tests reads.
_TINY_CAPTIONS = ("dog before siren", "siren before dog", "dog while siren", "a sound of rain")


@register_encoder("compact_clap")
class CompactClap(DualEncoder):
    """The biocl CLAP: :class:`LogMelCNN` audio, :class:`TextTransformer` text, two projection heads.

    Parameters
    ----------
    audio : LogMelCNN
        The audio encoder (submodule ``audio``).
    text : TextTransformer
        The order-aware text encoder (submodule ``text``).
    tokenizer : WordTokenizer
        The vocabulary the text encoder reads; saved with the model.
    embed_dim : int
        Dimension of the shared embedding space.
    projection_hidden_dim : int | None
        Hidden width of the projection heads (None: linear projections).
    init_log_scale : float
        Initial log logit scale (CLAP: ``log(1/0.07)``).
    """

    def __init__(self, audio: LogMelCNN, text: TextTransformer, tokenizer: WordTokenizer, *, embed_dim: int = 64,
                 projection_hidden_dim: int | None = None, init_log_scale: float = CLIP_LOG_SCALE):
        super().__init__()
        if len(tokenizer) != text.vocab_size:
            raise BioclError(f"the tokenizer has {len(tokenizer)} tokens but the text encoder reads {text.vocab_size}")
        self.audio, self.text, self.tokenizer = audio, text, tokenizer
        self.embed_dim, self.projection_hidden_dim = embed_dim, projection_hidden_dim
        self.audio_projection = ProjectionHead(audio.output_dim, projection_hidden_dim, embed_dim, bias=True)
        self.text_projection = ProjectionHead(text.output_dim, projection_hidden_dim, embed_dim, bias=True)
        self.logit_scale = LogitScale(init_log_scale)
        self.sample_rate_hz = audio.sample_rate_hz

    @classmethod
    def build(cls, captions: Sequence[str], *, sample_rate_hz: int, audio: dict[str, Any] | None = None,
              text: dict[str, Any] | None = None, embed_dim: int = 64, projection_hidden_dim: int | None = None,
              init_log_scale: float = CLIP_LOG_SCALE) -> CompactClap:
        """A fresh model whose vocabulary is built from ``captions`` (every caption it will read)."""
        tokenizer = WordTokenizer.build(captions)
        audio_encoder = LogMelCNN(sample_rate_hz=sample_rate_hz, **(audio or {}))
        text_encoder = TextTransformer(vocab_size=len(tokenizer), **(text or {}))
        return cls(audio_encoder, text_encoder, tokenizer, embed_dim=embed_dim,
                   projection_hidden_dim=projection_hidden_dim, init_log_scale=init_log_scale)

    def prepare_audio(self, waveforms: Sequence[np.ndarray] | np.ndarray) -> dict[str, torch.Tensor]:
        """``{"waveform": (n, n_samples) float32}``, padded at the end to the encoder's minimum length."""
        return {"waveform": torch.from_numpy(fit_waveforms(waveforms, self.audio.min_samples))}

    def prepare_text(self, captions: Sequence[str]) -> dict[str, torch.Tensor]:
        """``{"token_ids", "attention_mask"}`` from the model's tokenizer."""
        ids, mask = self.tokenizer.encode(list(captions), self.text.max_tokens)
        return {"token_ids": ids, "attention_mask": mask}

    def encode_audio(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Normalised audio embeddings, shape (n, embed_dim)."""
        waveform = inputs["waveform"].to(self._device())
        return torch.nn.functional.normalize(self.audio_projection(self.audio(waveform)).float(), dim=-1)

    def encode_text(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Normalised caption embeddings, shape (n, embed_dim)."""
        device = self._device()
        hidden = self.text(inputs["token_ids"].to(device), inputs["attention_mask"].to(device))
        return torch.nn.functional.normalize(self.text_projection(hidden).float(), dim=-1)

    def example_words(self) -> list[str]:
        """The vocabulary's words (the special tokens aside)."""
        return self.tokenizer.vocabulary[len(SPECIAL_TOKENS):]

    @classmethod
    def tiny(cls, checkpoint: str | Path | None = None) -> CompactClap:
        """An 8 kHz model with tiny audio and text encoders and an 8-dimensional space."""
        return cls.build(_TINY_CAPTIONS, sample_rate_hz=8000,
                         audio=dict(n_mels=16, n_fft=256, hop_length=80, channels=[4, 8], time_bins=2, hidden_dim=16,
                                    output_dim=16),
                         text=dict(d_model=16, n_layers=1, n_heads=2, ff_dim=32, max_tokens=8), embed_dim=8)

    def paper_trainable(self) -> list[str]:
        """What TeminAL trains: the last text layer and final norm, the text projection, the audio fc and projection."""
        return [f"text.layers.{len(self.text.layers) - 1}.", "text.norm.", "text_projection.", "audio.fc.",
                "audio_projection."]

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild the model (weights aside)."""
        return {"kind": "compact", "audio": self.audio.spec(), "text": self.text.spec(), "embed_dim": self.embed_dim,
                "projection_hidden_dim": self.projection_hidden_dim}

    def save(self, folder: str | Path) -> str:
        """Write ``model.safetensors``, ``tokenizer.json`` and ``config.json``; return the weights' SHA-256."""
        from biocl.utils.io import write_json
        from biocl.utils.weights import save_weights

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(folder / TOKENIZER_FILE)
        write_json(folder / CONFIG_FILE, self.spec())
        return save_weights(self, folder / MODEL_FILE)

    @classmethod
    def load(cls, folder: str | Path) -> CompactClap:
        """The model :meth:`save` wrote to ``folder``."""
        from biocl.utils.weights import load_weights

        folder = Path(folder)
        config = read_model_config(folder)
        tokenizer = WordTokenizer.load(folder / TOKENIZER_FILE)
        try:
            audio = LogMelCNN(**config["audio"])
            text = TextTransformer(**config["text"])
            model = cls(audio, text, tokenizer, embed_dim=config["embed_dim"],
                        projection_hidden_dim=config["projection_hidden_dim"])
        except (KeyError, TypeError) as err:
            raise BioclError(f"config.json does not describe a biocl CLAP model ({err})",
                             path=folder / CONFIG_FILE) from None
        load_weights(model, folder / MODEL_FILE)
        return model


def load_clap(folder: str | Path) -> DualEncoder:
    """A model saved by biocl (:meth:`CompactClap.save` or :meth:`HFClapAdapter.save`).

    Raises
    ------
    BioclError
        When the folder is missing or holds no biocl model.
    """
    folder = Path(folder)
    config = read_model_config(folder)
    if config.get("kind") == "compact":
        return CompactClap.load(folder)
    if config.get("kind") == "hf_clap":
        from biocl.utils.weights import load_weights

        model = HFClapAdapter(config["path"])
        load_weights(model, folder / MODEL_FILE)
        return model
    raise BioclError(f"unknown model kind {config.get('kind')!r}", path=folder / CONFIG_FILE)
