"""Temporal post-training of audio-language models (TeminAL A/B, ZSTE; Sinha et al. 2024)."""

from biocl.pipelines.audio_temporal.pipeline import run
from biocl.protocols.audio_temporal import SECTIONS

__all__ = ["SECTIONS", "run"]
