"""Encoders, one per file, each registered under a name in :data:`ENCODERS`.

| name | modality | file |
|---|---|---|
| ``simple_conv`` | brain (M/EEG) | ``brain.py`` (Défossez et al. 2023) |
| ``dna_conv`` | dna | ``dna.py`` |
| ``logmel_cnn`` | audio | ``audio.py`` |
| ``text_transformer`` | text | ``text.py`` |
| ``compact_clap`` | audio+text | ``clap.py`` (the two above, projected into one space) |
| ``hf_dna`` | dna | ``pretrained/dnabert.py`` (DNABERT-2/-S from a local folder) |
| ``hf_clap`` | audio+text | ``pretrained/clap.py`` (a Hugging Face CLAP from a local folder) |

Every encoder declares the contract of :mod:`biocl.encoders.base`; the DNA encoders also
share :class:`biocl.encoders.dna.DnaEncoder` and the dual encoders
:class:`biocl.encoders.dual.DualEncoder`.
"""

from biocl.encoders import audio, brain, clap, dna, dual, pretrained, text
from biocl.encoders.base import ENCODERS, Encoder, build_encoder, register_encoder

__all__ = ["ENCODERS", "Encoder", "build_encoder", "register_encoder", "audio", "brain", "clap", "dna", "dual",
           "pretrained", "text"]
