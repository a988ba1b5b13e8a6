"""Sounds for audio-language training: reading data sets, composing clips, simulated events.

============  ==============================================================================
``reading``   audio files and the three data set layouts (manifest, ESC-50, labelled names),
              bad-clip handling and the length policy
``compose``   "A before B", "B before A" and "A while B" compositions of two clips
``simulate``  synthetic sound-event classes written in the ESC-50 layout
============  ==============================================================================
"""

from biocl.data.audio.compose import KINDS, compose, concatenate, overlay
from biocl.data.audio.reading import (
    AUDIO_SUFFIXES,
    FSDD_PATTERN,
    AudioClip,
    AudioDataset,
    fit_length,
    list_esc50,
    list_labelled_names,
    list_manifest,
    load_audio_dataset,
    read_audio,
    rms_dbfs,
)
from biocl.data.audio.simulate import SOUND_CLASSES, simulate_sound_events, simulation_summary, synthesize

__all__ = [
    "AUDIO_SUFFIXES", "FSDD_PATTERN", "AudioClip", "AudioDataset", "read_audio", "rms_dbfs", "fit_length",
    "list_manifest", "list_esc50", "list_labelled_names", "load_audio_dataset",
    "KINDS", "concatenate", "overlay", "compose",
    "SOUND_CLASSES", "synthesize", "simulate_sound_events", "simulation_summary",
]
