"""Temporal post-training of audio-language models (TeminAL A/B, ZSTE; Sinha et al. 2024), one job per module.

``data`` (sounds read or simulated, fitted, split by clip and by class pair, the held-out
items), ``batches`` (each phase's training batches), ``training`` (the dual encoder, its
losses and the curriculum's phases), ``evaluation`` (ZSTE, CompA-order and retrieval, chance
levels), ``details`` (the report material), ``pipeline`` (``run``), ``curriculum`` (running
some phases only: `biocl audio pretrain|posttrain`) and ``embedding`` (`biocl audio embed`).
"""

from biocl.pipelines.audio_temporal.pipeline import run
from biocl.protocols.audio_temporal import SECTIONS

__all__ = ["SECTIONS", "run"]
