"""The generative model behind the simulated M/EEG: how speech drives the brain.

Everything the brain "does" in the simulation lives in a :class:`GenerativeModel`, saved
with the data set (``derivatives/biocl-simulation/model.npz``) so that the oracle decoder
(:func:`biocl.data.meg.simulate.dataset.oracle_scores`) uses the very same model. Sensors, sources,
forward model and noise are in :mod:`biocl.data.meg.simulate.sensors`.

Responses are computed at 120 Hz from *drive* features of the speech: acoustic features
(envelope, a few log-mel bands and the "peak rate", the half-wave rectified derivative of
the envelope that marks syllable onsets) convolved with subject-specific temporal
response functions (TRFs, lags 0-400 ms: P50/N100/P200/late components whose latencies
and weights vary by subject), plus a word-specific evoked response at every word onset
(0-600 ms, shared across subjects up to a per-subject gain per source). The signal
sources are bilateral auditory cortex, bilateral anterior temporal cortex and a few
random cortical sources (in that order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biocl.data.speech.simulate import Stimulus
from biocl.utils.errors import BioclError

__all__ = [
    "MODEL_SFREQ_HZ",
    "LEAD_S",
    "MIN_PAUSE_S",
    "MAX_PAUSE_S",
    "GenerativeModel",
    "acoustic_drive",
    "draw_responses",
    "scale_responses",
    "predict_sources",
    "schedule_stimuli",
    "drive_timeline",
]

#: Rate of the generative model, in Hz (the decoder's rate).
MODEL_SFREQ_HZ = 120.0
#: Silence before the first sentence of a recording, in seconds.
LEAD_S = 1.0
#: Range of the pauses between sentences, in seconds.
MIN_PAUSE_S, MAX_PAUSE_S = 0.5, 1.2
_TRF_LAGS_S = 0.4
_WORD_LAGS_S = 0.6
# TRF components (latency s, width s, sign on auditory sources): P50, N100, P200, late.
_TRF_COMPONENTS = ((0.05, 0.012, 1.0), (0.10, 0.02, -1.0), (0.18, 0.035, 1.0), (0.30, 0.05, -0.5))
# Word response components (latency s, width s).
_WORD_COMPONENTS = ((0.15, 0.03), (0.25, 0.05), (0.40, 0.08))


@dataclass
class GenerativeModel:
    """The arrays of the simulation that the oracle needs (all at :data:`MODEL_SFREQ_HZ`).

    Attributes
    ----------
    acoustic : np.ndarray
        ``(A, total_frames)`` standardised acoustic drive of every stimulus, concatenated.
    stimulus_offsets : np.ndarray
        ``(n_stimuli + 1,)`` frame offsets of each stimulus in ``acoustic``.
    silence : np.ndarray
        ``(A,)`` the acoustic drive of silence (used outside a stimulus).
    word_stimulus, word_frame, word_id : np.ndarray
        One entry per word token: its stimulus, onset frame inside it, vocabulary index.
    trf : np.ndarray
        ``(n_subjects, n_sources, A, n_trf_lags)`` temporal response functions.
    word_kernels : np.ndarray
        ``(n_words, n_sources, n_word_lags)`` evoked response of each word.
    word_gain : np.ndarray
        ``(n_subjects, n_sources)`` per-subject gain of the word responses.
    leadfield : np.ndarray
        ``(n_subjects, n_channels, n_sources)`` signal sources to sensors, data units.
    noise_cov : np.ndarray
        ``(n_subjects, n_channels, n_channels)`` spatial covariance of the noise at 120 Hz
        within 3 s windows whose per-channel mean is removed, data units squared (mean
        over the subject's sessions; the bad channels' rows are meaningless).
    total_std : np.ndarray
        ``(n_subjects, n_channels)`` standard deviation of signal + noise, measured the same way.
    meta : dict
        JSON-able description: subjects, channel names, stimulus names, vocabulary,
        feature names, bad channels per subject, parameters.
    """

    acoustic: np.ndarray
    stimulus_offsets: np.ndarray
    silence: np.ndarray
    word_stimulus: np.ndarray
    word_frame: np.ndarray
    word_id: np.ndarray
    trf: np.ndarray
    word_kernels: np.ndarray
    word_gain: np.ndarray
    leadfield: np.ndarray
    noise_cov: np.ndarray
    total_std: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    ARRAYS = ("acoustic", "stimulus_offsets", "silence", "word_stimulus", "word_frame", "word_id", "trf",
              "word_kernels", "word_gain", "leadfield", "noise_cov", "total_std")

    def subject_index(self, subject: str) -> int:
        """Position of ``subject`` in the model's arrays."""
        subjects = self.meta["subjects"]
        if str(subject) not in subjects:
            raise BioclError(f"subject {subject!r} is not in the simulation (subjects: {subjects})")
        return subjects.index(str(subject))

    def stimulus_index(self, name: str) -> int:
        """Position of the stimulus file ``name`` (a file name or path) in the model."""
        names = self.meta["stimuli"]
        base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
        if base not in names:
            raise BioclError(f"stimulus {base!r} is not part of the simulation")
        return names.index(base)

    def stimulus_acoustic(self, index: int) -> np.ndarray:
        """``(A, n_frames)`` acoustic drive of one stimulus."""
        return self.acoustic[:, self.stimulus_offsets[index]:self.stimulus_offsets[index + 1]]


def acoustic_drive(waves: list[np.ndarray], sfreq_hz: int, *, n_mel_bands: int = 8
                   ) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """Standardised acoustic drive at 120 Hz of each stimulus, and of silence.

    Features: the envelope, ``n_mel_bands`` log10 mel bands, and the peak rate (half-wave
    rectified first difference of the envelope). Envelope and mel bands are z-scored per
    feature over all stimuli; the peak rate is divided by its standard deviation so that
    it stays 0 where the sound does not rise.

    The stimuli are analysed as one signal, each padded to a whole number of 25 ms
    (3 frames at 120 Hz, 400 samples at 16 kHz) so that frames split exactly between files.
    """
    from biocl.data.speech.features import envelope_features, mel_features

    block = int(sfreq_hz * 3 / MODEL_SFREQ_HZ)
    padded = [np.pad(w, (0, (-len(w)) % block)) for w in waves]
    frames = [len(p) // block * 3 for p in padded]
    signal = np.concatenate(padded + [np.zeros(block * 4, dtype=np.float32)])
    envelope = envelope_features(signal, sfreq_hz, out_sfreq_hz=MODEL_SFREQ_HZ)
    mel = mel_features(signal, sfreq_hz, n_mels=n_mel_bands, out_sfreq_hz=MODEL_SFREQ_HZ)
    peak_rate = np.maximum(np.diff(envelope, axis=1, prepend=envelope[:, :1]), 0.0)
    total = sum(frames)
    drive = np.concatenate([envelope, mel, peak_rate])[:, :total + 3].astype(np.float64)
    speech = drive[:, :total]
    mean, std = speech.mean(axis=1), speech.std(axis=1) + 1e-8
    mean[-1] = 0.0
    drive = (drive - mean[:, None]) / std[:, None]
    silence = drive[:, -1].copy()
    offsets = np.concatenate([[0], np.cumsum(frames)])
    names = ["envelope"] + [f"mel_{i}" for i in range(n_mel_bands)] + ["peak_rate"]
    return ([drive[:, offsets[i]:offsets[i + 1]].astype(np.float32) for i in range(len(waves))],
            silence.astype(np.float32), names)


def draw_responses(
    n_subjects: int,
    n_sources: int,
    n_features: int,
    n_words: int,
    rng: np.random.Generator,
    *,
    subject_variability: float = 0.5,
) -> dict[str, np.ndarray]:
    """Subject-specific TRFs and word-specific evoked responses (before scaling).

    Returns
    -------
    dict
        ``trf`` ``(n_subjects, n_sources, n_features, n_trf_lags)``, ``word_kernels``
        ``(n_words, n_sources, n_word_lags)``, ``word_gain`` ``(n_subjects, n_sources)``.
    """
    lags = np.arange(int(round(_TRF_LAGS_S * MODEL_SFREQ_HZ)) + 1) / MODEL_SFREQ_HZ
    # Sources 0-3 are auditory / temporal; the rest respond weakly and with random signs.
    source_weight = np.array([1.0, 1.0, 0.7, 0.7] + [0.4] * (n_sources - 4))[:n_sources]
    feature_weight = np.full(n_features, 0.5)
    feature_weight[[0, -1]] = 1.0  # envelope and peak rate drive auditory cortex most
    signs = np.array([c[2] for c in _TRF_COMPONENTS])
    shared = np.abs(rng.normal(1.0, 0.3, (n_sources, n_features, len(signs)))) * signs
    shared[4:] = rng.normal(0.0, 0.7, shared[4:].shape)
    trf = np.zeros((n_subjects, n_sources, n_features, len(lags)))
    for s in range(n_subjects):
        amplitude = shared + subject_variability * rng.normal(0, 1, shared.shape)
        latency = np.array([c[0] for c in _TRF_COMPONENTS]) + rng.normal(0, 0.008, len(signs))
        for m, (_, width, _) in enumerate(_TRF_COMPONENTS):
            bump = np.exp(-0.5 * ((lags - latency[m]) / width) ** 2)
            trf[s] += amplitude[..., m, None] * bump
        trf[s] *= source_weight[:, None, None] * feature_weight[None, :, None]
    word_lags = np.arange(int(round(_WORD_LAGS_S * MODEL_SFREQ_HZ)) + 1) / MODEL_SFREQ_HZ
    word_source_weight = np.array([0.5, 0.5, 1.0, 1.0] + [0.5] * (n_sources - 4))[:n_sources]
    word_kernels = np.zeros((n_words, n_sources, len(word_lags)))
    for latency, width in _WORD_COMPONENTS:
        bump = np.exp(-0.5 * ((word_lags - latency) / width) ** 2)
        word_kernels += rng.normal(0, 1, (n_words, n_sources, 1)) * bump
    word_kernels *= word_source_weight[None, :, None]
    word_gain = 1.0 + 0.3 * rng.standard_normal((n_subjects, n_sources))
    return {"trf": trf, "word_kernels": word_kernels, "word_gain": word_gain}


def predict_sources(
    trf: np.ndarray,
    word_kernels: np.ndarray,
    acoustic: np.ndarray,
    word_frames: np.ndarray,
    word_ids: np.ndarray,
    *,
    start: int = 0,
    n_frames: int | None = None,
) -> np.ndarray:
    """Source activity at 120 Hz from a drive timeline: TRF convolution plus word responses.

    Parameters
    ----------
    trf : np.ndarray
        ``(n_sources, A, n_lags)`` one subject's TRFs.
    word_kernels : np.ndarray
        ``(n_words, n_sources, n_word_lags)`` word responses (subject gain applied).
    acoustic : np.ndarray
        ``(A, T)`` acoustic drive of the timeline; ``acoustic[:, t]`` is frame ``t``.
    word_frames, word_ids : np.ndarray
        Onset frame in the timeline and vocabulary index of each word token.
    start, n_frames : int
        Frames ``start .. start + n_frames`` of the output (all of ``T`` by default).
        ``y[t] = sum_lag trf[lag] x[t - lag]``: the drive must cover the lags before ``start``.

    Returns
    -------
    np.ndarray
        ``(n_sources, n_frames)`` float64.
    """
    from scipy.signal import oaconvolve

    n_sources, n_features, n_lags = trf.shape
    total = acoustic.shape[1]
    n_frames = total - start if n_frames is None else n_frames
    lo = max(0, start - n_lags + 1)
    segment = acoustic[:, lo:start + n_frames].astype(np.float64)
    out = np.zeros((n_sources, n_frames))
    if segment.shape[1]:
        convolved = oaconvolve(segment[None, :, :], trf, axes=2, mode="full").sum(axis=1)
        first = start - lo
        piece = convolved[:, first:first + n_frames]
        out[:, :piece.shape[1]] = piece
    n_word_lags = word_kernels.shape[2]
    for frame, word in zip(np.asarray(word_frames), np.asarray(word_ids), strict=True):
        a, b = max(frame, start), min(frame + n_word_lags, start + n_frames)
        if a < b:
            out[:, a - start:b - start] += word_kernels[word][:, a - frame:b - frame]
    return out


def scale_responses(responses: dict[str, np.ndarray], drives: list[np.ndarray],
                    tokens: list[tuple[np.ndarray, np.ndarray]], trf_strength: float, word_strength: float) -> None:
    """Scale each subject's TRFs and word gains, in place, to the requested source RMS.

    The acoustic part (TRFs on the acoustic drive) and the word part (word responses at
    the word onsets) are measured separately over all stimuli played back to back, so
    ``trf_strength`` and ``word_strength`` are their RMS over sources and time.
    """
    acoustic = np.concatenate(drives, axis=1)
    offsets = np.cumsum([0] + [d.shape[1] for d in drives])
    frames = np.concatenate([t[0] + offsets[i] for i, t in enumerate(tokens)])
    ids = np.concatenate([t[1] for t in tokens])
    no_words = np.zeros((0,), dtype=int)
    for s in range(responses["trf"].shape[0]):
        acoustic_part = predict_sources(responses["trf"][s], responses["word_kernels"], acoustic, no_words, no_words)
        kernels = responses["word_kernels"] * responses["word_gain"][s][None, :, None]
        word_part = predict_sources(np.zeros_like(responses["trf"][s]), kernels, acoustic, frames, ids)
        acoustic_rms = np.sqrt(np.mean(acoustic_part.var(axis=1)))
        word_rms = np.sqrt(np.mean(word_part.var(axis=1)))
        responses["trf"][s] *= trf_strength / max(acoustic_rms, 1e-12)
        responses["word_gain"][s] *= word_strength / max(word_rms, 1e-12)


def schedule_stimuli(stimuli: list[Stimulus], duration_s: float, rng: np.random.Generator, *, cycle: bool
                     ) -> list[tuple[int, float]]:
    """When each stimulus is played in one recording.

    Stimuli come in a random order, the first after :data:`LEAD_S`, separated by pauses
    drawn in [:data:`MIN_PAUSE_S`, :data:`MAX_PAUSE_S`], onsets on the 120 Hz grid; a stimulus
    that does not fit before ``duration_s`` is skipped. With ``cycle`` (few, real stimuli)
    new random rounds are added until nothing more fits.

    Returns
    -------
    list of (int, float)
        Stimulus index and onset in seconds, in time order.
    """
    schedule, cursor = [], LEAD_S
    while True:
        added = False
        for index in rng.permutation(len(stimuli)):
            if cursor + stimuli[index].duration_s + MIN_PAUSE_S > duration_s:
                continue
            onset = round(cursor * MODEL_SFREQ_HZ) / MODEL_SFREQ_HZ
            schedule.append((int(index), onset))
            cursor = onset + stimuli[index].duration_s + rng.uniform(MIN_PAUSE_S, MAX_PAUSE_S)
            added = True
        if not cycle or not added:
            return sorted(schedule, key=lambda item: item[1])


def drive_timeline(schedule: list[tuple[int, float]], drives: list[np.ndarray],
                   tokens: list[tuple[np.ndarray, np.ndarray]], silence: np.ndarray, duration_s: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The drive of a whole recording at 120 Hz: acoustic features and word tokens.

    Parameters
    ----------
    schedule : list of (int, float)
        From :func:`schedule_stimuli`.
    drives : list of np.ndarray
        ``(A, T_i)`` acoustic drive of each stimulus; silence elsewhere.
    tokens : list of (np.ndarray, np.ndarray)
        Onset frames (inside the stimulus) and vocabulary ids of each stimulus's words.
    silence : np.ndarray
        ``(A,)`` drive of silence.
    duration_s : float
        Length of the recording, in seconds.

    Returns
    -------
    acoustic : np.ndarray
        ``(A, ceil(duration_s * 120) + 1)`` float32.
    frames, ids : np.ndarray
        Onset frame in the recording and vocabulary id of every word token.
    """
    n = int(np.ceil(duration_s * MODEL_SFREQ_HZ)) + 1
    timeline = np.repeat(silence[:, None], n, axis=1).astype(np.float32)
    frames, ids = [], []
    for index, onset in schedule:
        start = int(round(onset * MODEL_SFREQ_HZ))
        drive = drives[index][:, : n - start]
        timeline[:, start:start + drive.shape[1]] = drive
        frames.append(tokens[index][0] + start)
        ids.append(tokens[index][1])
    return timeline, np.concatenate(frames).astype(int), np.concatenate(ids).astype(int)
