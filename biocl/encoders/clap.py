"""CLAP-style dual encoders: the compact biocl model and an adapter for a pretrained Hugging Face CLAP.

Both expose the same interface, so the temporal post-training pipeline treats them alike:

``prepare_audio(waveforms) -> dict``  tensors for one group of equal-length clips (CPU, deterministic)
``prepare_text(captions) -> dict``    tensors for a batch of captions
``forward(audio_groups, text)``       L2-normalised audio rows (groups concatenated) and caption rows
``embed_audio(waveforms)``, ``embed_text(captions)``  evaluation: numpy embeddings, no gradient
``logit_scale``                       a :class:`biocl.heads.LogitScale` (init ``log(1/0.07)``, clamp ``[0, ln 100]``)
``paper_trainable()``                 parameter-name prefixes of the layers TeminAL trains

Evaluation never crops: the whole clip is encoded. A clip shorter than the encoder's
minimum is zero-padded at the end to that minimum; for the pretrained CLAP, a clip longer
than the feature extractor's maximum (10 s for LAION-CLAP) is cut to its first 10 s, and
the feature extractor's random paths (random crops, and the random "is_longer" flag of
fusion models) are never taken.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from biocl.encoders.audio import LogMelCNN
from biocl.encoders.text import TextTransformer, WordTokenizer
from biocl.utils.errors import BioclError
from biocl.heads.losses import CLIP_LOG_SCALE, LogitScale
from biocl.heads.projection import ProjectionHead

__all__ = ["CompactClap", "HFClapAdapter", "load_clap", "fit_waveforms"]

MODEL_FILE, TOKENIZER_FILE, CONFIG_FILE = "model.safetensors", "tokenizer.json", "config.json"
_HF_HINT = "pip install 'biocl[hf]'"


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


class _DualEncoder(nn.Module):
    """The evaluation half of the interface, shared by both models."""

    sample_rate_hz: int
    logit_scale: LogitScale

    def prepare_audio(self, waveforms: Sequence[np.ndarray] | np.ndarray) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def prepare_text(self, captions: Sequence[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def encode_audio(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def encode_text(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

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


class CompactClap(_DualEncoder):
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
        return F.normalize(self.audio_projection(self.audio(waveform)).float(), dim=-1)

    def encode_text(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Normalised caption embeddings, shape (n, embed_dim)."""
        device = self._device()
        hidden = self.text(inputs["token_ids"].to(device), inputs["attention_mask"].to(device))
        return F.normalize(self.text_projection(hidden).float(), dim=-1)

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
        config = _read_config(folder)
        tokenizer = WordTokenizer.load(folder / TOKENIZER_FILE)
        try:
            audio = LogMelCNN(**config["audio"])
            text = TextTransformer(**config["text"])
            model = cls(audio, text, tokenizer, embed_dim=config["embed_dim"],
                        projection_hidden_dim=config["projection_hidden_dim"])
        except (KeyError, TypeError) as err:
            raise BioclError(f"config.json does not describe a biocl CLAP model ({err})", path=folder / CONFIG_FILE) from None
        load_weights(model, folder / MODEL_FILE)
        return model


class HFClapAdapter(_DualEncoder):
    """A pretrained Hugging Face ``ClapModel`` (e.g. LAION-CLAP) behind the biocl interface.

    Parameters
    ----------
    path : str | Path
        A local folder written by ``save_pretrained`` (model and processor files). Nothing
        is downloaded (``local_files_only=True``).

    Notes
    -----
    The model's own ``logit_scale_a`` initialises :attr:`logit_scale` (clamped to
    ``[0, ln 100]``); the post-training losses use and train that one scale.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        path = Path(path)
        try:
            import transformers
        except ImportError:
            raise BioclError("loading a pretrained CLAP needs the transformers package", path=path,
                             hint=_HF_HINT) from None
        if not path.is_dir():
            raise BioclError("pretrained CLAP folder not found", path=path,
                             hint=f"save one with ClapModel.save_pretrained and ClapProcessor.save_pretrained; {_HF_HINT}")
        try:
            self.clap = transformers.ClapModel.from_pretrained(str(path), local_files_only=True)
            self.processor = transformers.ClapProcessor.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as err:
            raise BioclError(f"cannot load a CLAP model and processor from this folder ({_short(err)})", path=path,
                             hint="it must hold config.json, the weights and the processor files") from None
        self.path = path
        extractor = self.processor.feature_extractor
        self.sample_rate_hz = int(extractor.sampling_rate)
        self.max_samples = int(extractor.nb_max_samples)
        self.embed_dim = int(self.clap.config.projection_dim)
        initial = float(self.clap.logit_scale_a.detach())
        self.logit_scale = LogitScale(min(max(initial, 0.0), LogitScale().max_log))

    def prepare_audio(self, waveforms: Sequence[np.ndarray] | np.ndarray) -> dict[str, torch.Tensor]:
        """The feature extractor's ``input_features`` and ``is_longer`` for clips of at most its maximum length."""
        batch = fit_waveforms(waveforms, 1, self.max_samples)
        # The input layout must follow the model (4 stacked mels for fusion models, 1 otherwise),
        # whatever the saved extractor's default.
        truncation = "fusion" if self.clap.config.audio_config.enable_fusion else "rand_trunc"
        features = self.processor.feature_extractor(list(batch), sampling_rate=self.sample_rate_hz,
                                                    truncation=truncation, return_tensors="pt")
        # No clip is longer than the maximum (cut above), so the true flag is False for all;
        # the extractor sets one at random in fusion mode, which would make embeddings random.
        return {"input_features": features["input_features"],
                "is_longer": torch.zeros(batch.shape[0], 1, dtype=torch.bool)}

    def prepare_text(self, captions: Sequence[str]) -> dict[str, torch.Tensor]:
        """The tokenizer's ``input_ids`` and ``attention_mask``."""
        tokens = self.processor.tokenizer(list(captions), padding=True, return_tensors="pt")
        return {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}

    def encode_audio(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Normalised audio embeddings, shape (n, projection_dim)."""
        device = self._device()
        out = self.clap.audio_model(input_features=inputs["input_features"].to(device),
                                    is_longer=inputs["is_longer"].to(device))
        return F.normalize(self.clap.audio_projection(out.pooler_output).float(), dim=-1)

    def encode_text(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Normalised caption embeddings, shape (n, projection_dim)."""
        device = self._device()
        out = self.clap.text_model(input_ids=inputs["input_ids"].to(device),
                                   attention_mask=inputs["attention_mask"].to(device))
        return F.normalize(self.clap.text_projection(out.pooler_output).float(), dim=-1)

    def paper_trainable(self) -> list[str]:
        """The last text layer, the text pooler and projection, and the audio projection."""
        last = self.clap.config.text_config.num_hidden_layers - 1
        return [f"clap.text_model.encoder.layer.{last}.", "clap.text_model.pooler.", "clap.text_projection.",
                "clap.audio_projection."]

    def spec(self) -> dict[str, Any]:
        """Where the model came from and its sizes."""
        return {"kind": "hf_clap", "path": str(self.path), "projection_dim": self.embed_dim,
                "sample_rate_hz": self.sample_rate_hz, "max_samples": self.max_samples}

    def save(self, folder: str | Path) -> str:
        """Write the post-trained weights as ``model.safetensors`` (with ``config.json``); return its SHA-256."""
        from biocl.utils.io import write_json
        from biocl.utils.weights import save_weights

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / CONFIG_FILE, self.spec())
        return save_weights(self, folder / MODEL_FILE)


def load_clap(folder: str | Path) -> _DualEncoder:
    """A model saved by biocl (:meth:`CompactClap.save` or :meth:`HFClapAdapter.save`).

    Raises
    ------
    BioclError
        When the folder is missing or holds no biocl model.
    """
    folder = Path(folder)
    config = _read_config(folder)
    if config.get("kind") == "compact":
        return CompactClap.load(folder)
    if config.get("kind") == "hf_clap":
        from biocl.utils.weights import load_weights

        model = HFClapAdapter(config["path"])
        load_weights(model, folder / MODEL_FILE)
        return model
    raise BioclError(f"unknown model kind {config.get('kind')!r}", path=folder / CONFIG_FILE)


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise BioclError("not a biocl model folder: config.json is missing", path=folder,
                         hint="give the folder written by `biocl audio pretrain` or a run's model/ folder")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise BioclError(f"cannot read the model config ({err})", path=path) from None


def _short(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__
