"""A pretrained Hugging Face CLAP (e.g. LAION-CLAP) from a local folder, behind the dual-encoder interface.

Registered as ``"hf_clap"``. The folder is read with ``local_files_only=True``: nothing is
downloaded. A clip longer than the feature extractor's maximum (10 s for LAION-CLAP) is cut
to its first 10 s, and the feature extractor's random paths (random crops, and the random
``is_longer`` flag of fusion models) are never taken, so embeddings are deterministic.
:meth:`HFClapAdapter.save` writes the post-trained weights with a ``config.json`` pointing
at the original folder; :func:`biocl.encoders.clap.load_clap` reads them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from biocl.encoders.base import register_encoder
from biocl.encoders.dual import CONFIG_FILE, MODEL_FILE, DualEncoder, fit_waveforms
from biocl.heads.losses import LogitScale
from biocl.utils.errors import BioclError
from biocl.utils.imports import install_hint, soft_import

__all__ = ["HFClapAdapter"]


@register_encoder("hf_clap")
class HFClapAdapter(DualEncoder):
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

    needs_checkpoint: ClassVar[bool] = True

    def __init__(self, path: str | Path):
        super().__init__()
        path = Path(path)
        transformers = soft_import("transformers", "loading a pretrained CLAP", path=path)
        if not path.is_dir():
            raise BioclError("pretrained CLAP folder not found", path=path,
                             hint="save one with ClapModel.save_pretrained and ClapProcessor.save_pretrained; "
                                  f"{install_hint('transformers')}")
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

    @classmethod
    def tiny(cls, checkpoint: str | Path | None = None) -> HFClapAdapter:
        """The adapter of a tiny CLAP folder (the contract tests write one)."""
        if checkpoint is None:
            raise ValueError("HFClapAdapter.tiny needs a tiny checkpoint folder")
        return cls(checkpoint)

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
        return torch.nn.functional.normalize(self.clap.audio_projection(out.pooler_output).float(), dim=-1)

    def encode_text(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Normalised caption embeddings, shape (n, projection_dim)."""
        device = self._device()
        out = self.clap.text_model(input_ids=inputs["input_ids"].to(device),
                                   attention_mask=inputs["attention_mask"].to(device))
        return torch.nn.functional.normalize(self.clap.text_projection(out.pooler_output).float(), dim=-1)

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


def _short(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__
