"""Adapters for pretrained checkpoints loaded from a local Hugging Face folder (nothing is downloaded).

One adapter per file, each registered in :data:`biocl.encoders.ENCODERS`: DNABERT-2/-S and
other BERT-like DNA models (``"hf_dna"``, :mod:`~biocl.encoders.pretrained.dnabert`) and
CLAP (``"hf_clap"``, :mod:`~biocl.encoders.pretrained.clap`). transformers is imported only
when an adapter is built (``pip install 'biocl[hf]'``).
"""

from biocl.encoders.pretrained.clap import HFClapAdapter
from biocl.encoders.pretrained.dnabert import PretrainedDnaEncoder

__all__ = ["HFClapAdapter", "PretrainedDnaEncoder"]
