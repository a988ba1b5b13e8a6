"""Speech heard in the brain recordings: reading it, its features, their cache, simulated stimuli.

============  ==============================================================================
``reading``   speech audio (any file soundfile reads, mono, resampled) and word timings
``features``  mel, envelope and wav2vec 2.0 features at 120 Hz; global standardisation
``cache``     the on-disk cache of computed features, keyed by content
``simulate``  stimuli for the simulated M/EEG: procedural speech-like sentences or real WAVs
============  ==============================================================================
"""

from biocl.data.speech.cache import FeatureCache
from biocl.data.speech.features import (
    Standardiser,
    envelope_features,
    mel_features,
    n_frames,
    standardise,
    wav2vec_features,
)
from biocl.data.speech.reading import read_speech, read_word_timings
from biocl.data.speech.simulate import SPEECH_SFREQ_HZ, Stimulus, real_stimuli, synthetic_stimuli

__all__ = [
    "read_speech", "read_word_timings",
    "mel_features", "envelope_features", "wav2vec_features", "standardise", "Standardiser", "n_frames",
    "FeatureCache",
    "Stimulus", "synthetic_stimuli", "real_stimuli", "SPEECH_SFREQ_HZ",
]
