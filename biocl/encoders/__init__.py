"""Encoders, one per file, each registered under a name in :data:`ENCODERS`.

| name | modality | file |
|---|---|---|
| ``simple_conv`` | M/EEG | ``brain.py`` (Défossez et al. 2023) |
| ``dna_conv`` | DNA | ``dna.py`` |
| ``logmel_cnn`` | audio | ``audio.py`` |
| ``text_transformer`` | text | ``text.py`` |

Adapters for pretrained checkpoints loaded from a local folder live in ``pretrained.py``
(DNABERT-2/-S) and ``clap.py`` (CLAP).
"""

from biocl.encoders import audio, brain, dna, text
from biocl.encoders.base import ENCODERS, Encoder, build_encoder, register_encoder

__all__ = ["ENCODERS", "Encoder", "build_encoder", "register_encoder", "audio", "brain", "dna", "text"]
