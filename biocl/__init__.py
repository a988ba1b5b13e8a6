"""biocl: contrastive learning on biosignals and genomes.

Three pipelines share one set of contrastive heads, one trainer, one evaluation and
report layer: brain-to-speech decoding (Défossez et al. 2023), species-aware DNA
embedding and binning (DNABERT-S, Zhou et al. 2024) and temporal post-training of
audio-language models (TeminAL, Sinha et al. 2024).
"""

from biocl.utils.errors import BioclError
from biocl.protocols.base import Protocol, load_protocol

__version__ = "0.1.0"

__all__ = ["BioclError", "Protocol", "load_protocol", "__version__"]
