"""What every CLAP-style dual encoder offers, so the temporal post-training pipeline treats them alike.

A dual encoder embeds audio and captions into one space (:class:`DualEncoder`):

``prepare_audio(waveforms) -> dict``  tensors for one group of equal-length clips (CPU, deterministic)
``prepare_text(captions) -> dict``    tensors for a batch of captions
``forward(audio_groups, text)``       L2-normalised audio rows (groups concatenated) and caption rows
``embed_audio(waveforms)``, ``embed_text(captions)``  evaluation: numpy embeddings, no gradient
``logit_scale``                       a :class:`biocl.heads.LogitScale` (init ``log(1/0.07)``, clamp ``[0, ln 100]``)
``paper_trainable()``                 parameter-name prefixes of the layers TeminAL trains

The biocl model is :class:`biocl.encoders.clap.CompactClap`; a pretrained Hugging Face CLAP
is :class:`biocl.encoders.pretrained.clap.HFClapAdapter`; :func:`biocl.encoders.clap.load_clap`
reads back either from a saved model folder (``model.safetensors`` + ``config.json``, and
``tokenizer.json`` for the compact model).

Evaluation never crops: the whole clip is encoded. A clip shorter than the encoder's
minimum is zero-padded at the end to that minimum (:func:`fit_waveforms`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from biocl.encoders.base import Encoder
from biocl.heads.losses import LogitScale
from biocl.utils.errors import BioclError

__all__ = ["DualEncoder", "fit_waveforms", "read_model_config", "MODEL_FILE", "TOKENIZER_FILE", "CONFIG_FILE"]

#: File names of a saved dual-encoder folder: weights, vocabulary (compact model), spec.
MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE = "model.safetensors", "tokenizer.json", "config.json"


def fit_waveforms(waveforms: Sequence[np.ndarray] | np.ndarray, min_samples: int,
                  max_samples: int | None = None) -> np.ndarray:
    """Stack equal-length clips, zero-padding at the end to ``min_samples`` and cutting after ``max_samples``.

    Raises
    ------
    BioclError
        When the clips do not all have the same length (group them by length first).
    """
    lengths = {len(w) for w in waveforms}
    if len(lengths) > 1:
        raise BioclError(f"clips of one batch must have equal lengths (got {sorted(lengths)[:5]} samples)")
    batch = np.asarray(np.stack([np.asarray(w, dtype=np.float32) for w in waveforms]), dtype=np.float32)
    if max_samples is not None and batch.shape[1] > max_samples:
        batch = batch[:, :max_samples]
    if batch.shape[1] < min_samples:
        batch = np.pad(batch, ((0, 0), (0, min_samples - batch.shape[1])))
    return batch


class DualEncoder(Encoder):
    """An audio and a caption encoder into one space, behind the biocl encoder contract.

    ``forward`` returns two tensors (``n_outputs = 2``), audio rows and caption rows, each of
    :meth:`output_shape`; ``output_dim`` is the shared ``embed_dim``. Subclasses implement
    the ``prepare_*`` and ``encode_*`` methods, ``paper_trainable``, ``spec`` and ``save``;
    the evaluation half (``embed_audio``, ``embed_text``) is shared.
    """

    modality: ClassVar[str] = "audio+text"
    n_outputs: ClassVar[int] = 2
    savable: ClassVar[bool] = True
    sample_rate_hz: int
    embed_dim: int
    logit_scale: LogitScale

    @property
    def output_dim(self) -> int:
        """The dimension of the shared embedding space (``embed_dim``)."""
        return self.embed_dim

    def prepare_audio(self, waveforms: Sequence[np.ndarray] | np.ndarray) -> dict[str, torch.Tensor]:
        """The encoder's input tensors for one group of equal-length clips (CPU, deterministic)."""
        raise NotImplementedError

    def prepare_text(self, captions: Sequence[str]) -> dict[str, torch.Tensor]:
        """The encoder's input tensors for a batch of captions."""
        raise NotImplementedError

    def encode_audio(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """L2-normalised audio embeddings of :meth:`prepare_audio`'s output, shape (n, embed_dim)."""
        raise NotImplementedError

    def encode_text(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """L2-normalised caption embeddings of :meth:`prepare_text`'s output, shape (n, embed_dim)."""
        raise NotImplementedError

    def paper_trainable(self) -> list[str]:
        """Parameter-name prefixes of the layers TeminAL trains."""
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        """What ``config.json`` records of the model (its ``"kind"`` tells :func:`load_clap` how to load it)."""
        raise NotImplementedError

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> dict[str, Any]:
        """One group of random 0.5 s clips and as many captions of the example vocabulary.

        The clips are drawn from ``generator``; the captions are words of
        :meth:`example_words` chosen with it.
        """
        n_samples = self.sample_rate_hz // 2
        waveforms = 0.1 * torch.randn(batch_size, n_samples, generator=generator)
        words = self.example_words()
        picks = torch.randint(0, len(words), (batch_size, 3), generator=generator).tolist()
        captions = [" ".join(words[i] for i in row) for row in picks]
        return {"audio": [self.prepare_audio(waveforms.numpy())], "text": self.prepare_text(captions)}

    def example_words(self) -> list[str]:
        """Words the text encoder knows, for :meth:`example_inputs`."""
        return ["dog", "siren", "before", "while", "after"]

    def forward(self, audio: Sequence[dict[str, torch.Tensor]], text: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised embeddings of every audio group (concatenated in order) and of the captions.

        Parameters
        ----------
        audio : sequence of dict
            :meth:`prepare_audio` outputs, one per group of equal-length clips.
        text : dict
            :meth:`prepare_text` output.

        Returns
        -------
        audio_embeddings : Tensor of shape (sum of group sizes, embed_dim)
        text_embeddings : Tensor of shape (n_captions, embed_dim)
        """
        audio_rows = torch.cat([self.encode_audio(group) for group in audio])
        return audio_rows, self.encode_text(text)

    def log_scale_value(self) -> float:
        """The clamped log logit scale as a float."""
        return float(self.logit_scale().detach())

    @torch.no_grad()
    def embed_audio(self, waveforms: Sequence[np.ndarray] | np.ndarray, batch_size: int = 64) -> np.ndarray:
        """L2-normalised embeddings of equal-length clips, shape (n, embed_dim), deterministic."""
        return self._embed(lambda chunk: self.encode_audio(self.prepare_audio(chunk)), list(waveforms), batch_size)

    @torch.no_grad()
    def embed_text(self, captions: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """L2-normalised embeddings of captions, shape (n, embed_dim)."""
        return self._embed(lambda chunk: self.encode_text(self.prepare_text(chunk)), list(captions), batch_size)

    def _embed(self, encode: Any, items: list, batch_size: int) -> np.ndarray:
        was_training = self.training
        self.eval()
        try:
            rows = [encode(items[i:i + batch_size]).float().cpu().numpy() for i in range(0, len(items), batch_size)]
        finally:
            self.train(was_training)
        return np.concatenate(rows) if rows else np.zeros((0, self.embed_dim), dtype=np.float32)

    def _device(self) -> torch.device:
        return next(self.parameters()).device


def read_model_config(folder: Path) -> dict[str, Any]:
    """The ``config.json`` of a saved dual-encoder folder.

    Raises
    ------
    BioclError
        When the file is missing or is not JSON.
    """
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise BioclError("not a biocl model folder: config.json is missing", path=folder,
                         hint="give the folder written by `biocl audio pretrain` or a run's model/ folder")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise BioclError(f"cannot read the model config ({err})", path=path) from None
