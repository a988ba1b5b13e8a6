"""The generative model behind the simulated M/EEG: sensors, sources, responses, noise.

Everything the brain "does" in the simulation lives here, in arrays that are saved with
the data set (``derivatives/biocl-simulation/model.npz``) so that the oracle decoder
(:func:`biocl.data.simulate_meg.oracle_scores`) can use the very same model.

Sensors are real layouts that MNE ships offline. MEG helmets are built by lifting a 2-D
layout (KIT-157, CTF-275) onto a sphere of radius 12 cm with radial point magnetometers
(``dev_head_t`` identity); EEG uses the 3-D ``biosemi64`` montage, average referenced.
Leadfields come from ``mne.make_forward_solution`` with a spherical head model and a
discrete source space of fixed-orientation dipoles.

Sources, per subject, in head coordinates around the sphere's centre:

* signal: bilateral auditory cortex (vertical tangential dipoles, the M100 pattern),
  bilateral anterior temporal cortex and a few random cortical sources;
* background: many random dipoles with independent 1/f (pink) activity;
* alpha: two occipital dipoles with bursts of a ~10 Hz rhythm.

Every subject has its own head position (a random rotation of a few degrees and a few
millimetres of translation) and its own source positions (anatomical jitter), hence its
own leadfield.

Responses are computed at 120 Hz from *drive* features of the speech: acoustic features
(envelope, a few log-mel bands and the "peak rate", the half-wave rectified derivative of
the envelope that marks syllable onsets) convolved with subject-specific temporal
response functions (TRFs, lags 0-400 ms: P50/N100/P200/late components whose latencies
and weights vary by subject), plus a word-specific evoked response at every word onset
(0-600 ms, shared across subjects up to a per-subject gain per source).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from biocl.errors import BioclError

__all__ = [
    "SYSTEMS",
    "MODEL_SFREQ_HZ",
    "GenerativeModel",
    "sensor_info",
    "subject_leadfields",
    "acoustic_drive",
    "draw_responses",
    "predict_sources",
    "pink_noise",
    "alpha_bursts",
    "upsample",
]

#: Simulated acquisition systems: layout or montage name, channel type.
SYSTEMS = {"KIT-157": ("KIT-157", "mag"), "CTF-275": ("CTF-275", "mag"), "EEG-64": ("biosemi64", "eeg")}
#: Rate of the generative model, in Hz (the decoder's rate).
MODEL_SFREQ_HZ = 120.0
_HELMET_RADIUS_M = 0.12
_MEG_ORIGIN_M = np.array([0.0, 0.0, 0.04])
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


def _lift_layout(layout_name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Channel names, 3-D positions and radial normals of a 2-D MEG layout lifted onto a sphere."""
    import mne

    layout = mne.channels.read_layout(layout_name)
    xy = layout.pos[:, :2] + layout.pos[:, 2:4] / 2
    xy = xy - (xy.max(axis=0) + xy.min(axis=0)) / 2
    radius = np.hypot(xy[:, 0], xy[:, 1])
    # The outermost sensors sit 105 degrees from the vertex, as a helmet's lower rim does.
    polar = radius / radius.max() * np.deg2rad(105.0)
    azimuth = np.arctan2(xy[:, 1], xy[:, 0])
    normals = np.stack([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], axis=1)
    return list(layout.names), _MEG_ORIGIN_M + _HELMET_RADIUS_M * normals, normals


def sensor_info(system: str, sfreq_hz: float, line_freq_hz: float) -> tuple[Any, Any, np.ndarray]:
    """MNE ``Info`` of a simulated system, its spherical head model and the sphere's centre.

    Parameters
    ----------
    system : {"KIT-157", "CTF-275", "EEG-64"}
        Sensor array.
    sfreq_hz, line_freq_hz : float
        Sampling rate and power-line frequency, in Hz.
    """
    import mne
    from mne.io.constants import FIFF

    if system not in SYSTEMS:
        raise BioclError(f"unknown system {system!r}", hint=f"choose one of {sorted(SYSTEMS)}")
    name, ch_type = SYSTEMS[system]
    if ch_type == "mag":
        names, positions, normals = _lift_layout(name)
        info = mne.create_info(names, sfreq_hz, "mag")
        for channel, position, normal in zip(info["chs"], positions, normals, strict=True):
            ex = np.cross([0.0, 0.0, 1.0], normal)
            ex = ex / np.linalg.norm(ex) if np.linalg.norm(ex) > 1e-9 else np.array([1.0, 0.0, 0.0])
            channel["loc"][:12] = np.concatenate([position, ex, np.cross(normal, ex), normal])
            channel["coil_type"] = FIFF.FIFFV_COIL_POINT_MAGNETOMETER
        with info._unlock():
            info["dev_head_t"] = mne.transforms.Transform("meg", "head", np.eye(4))
        sphere = mne.make_sphere_model(r0=_MEG_ORIGIN_M, head_radius=None, verbose="error")
        origin = _MEG_ORIGIN_M.copy()
    else:
        montage = mne.channels.make_standard_montage(name)
        info = mne.create_info(montage.ch_names, sfreq_hz, "eeg")
        info.set_montage(montage, verbose="error")
        sphere = mne.make_sphere_model("auto", "auto", info, verbose="error")
        origin = np.asarray(sphere["r0"], dtype=float)
    with info._unlock():
        info["line_freq"] = float(line_freq_hz)
    return info, sphere, origin


def _rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * cross + (1 - np.cos(angle_rad)) * cross @ cross


def _random_in_ball(n: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * radius * rng.uniform(0.3, 1.0, size=(n, 1)) ** (1 / 3)


def _tangential(positions: np.ndarray, preferred: np.ndarray) -> np.ndarray:
    radial = positions / np.linalg.norm(positions, axis=1, keepdims=True)
    orientation = preferred - (preferred * radial).sum(axis=1, keepdims=True) * radial
    return orientation / np.linalg.norm(orientation, axis=1, keepdims=True)


def subject_leadfields(
    info: Any,
    sphere: Any,
    origin: np.ndarray,
    rng: np.random.Generator,
    *,
    n_random_sources: int = 4,
    n_background: int = 40,
    head_rotation_deg: float = 4.0,
    head_translation_m: float = 0.004,
) -> dict[str, np.ndarray]:
    """One subject's sources and leadfields (signal, background, alpha), fixed orientations.

    Returns
    -------
    dict
        ``signal`` ``(n_channels, 4 + n_random_sources)``, ``background``
        ``(n_channels, n_background)``, ``alpha`` ``(n_channels, 2)``, in the forward
        model's units (T or V per A.m), and ``positions`` of the signal sources (m).
    """
    import mne

    anatomy = np.array([[-0.052, -0.012, 0.012], [0.052, -0.012, 0.012],     # auditory L, R
                        [-0.055, 0.015, -0.005], [0.055, 0.015, -0.005]])    # anterior temporal L, R
    signal = np.concatenate([anatomy + rng.normal(0, 0.004, anatomy.shape),
                             _random_in_ball(n_random_sources, 0.06, rng)])
    alpha = np.array([[-0.025, -0.065, 0.01], [0.025, -0.065, 0.01]]) + rng.normal(0, 0.004, (2, 3))
    background = _random_in_ball(n_background, 0.065, rng)
    relative = np.concatenate([signal, background, alpha])
    # The subject's head sits a little rotated and shifted in the helmet / under the cap.
    rotation = _rotation(rng.standard_normal(3), np.deg2rad(rng.normal(0, head_rotation_deg)))
    relative = relative @ rotation.T + rng.normal(0, head_translation_m, 3)
    preferred = np.zeros_like(relative)
    preferred[:4] = [0.0, 0.0, 1.0]
    preferred[4:] = rng.standard_normal((len(relative) - 4, 3))
    orientation = _tangential(relative, preferred)
    source_space = mne.setup_volume_source_space(pos=dict(rr=relative + origin, nn=orientation), verbose="error")
    is_meg = info["chs"][0]["kind"] == mne.io.constants.FIFF.FIFFV_MEG_CH
    forward = mne.make_forward_solution(info, trans=None, src=source_space, bem=sphere, meg=is_meg, eeg=not is_meg,
                                        verbose="error")
    free = forward["sol"]["data"].reshape(len(info["ch_names"]), len(relative), 3)
    leadfield = np.einsum("csk,sk->cs", free, orientation)
    if not is_meg:
        leadfield -= leadfield.mean(axis=0, keepdims=True)  # average reference
    n_signal = len(signal)
    return {"signal": leadfield[:, :n_signal], "background": leadfield[:, n_signal:n_signal + n_background],
            "alpha": leadfield[:, n_signal + n_background:], "positions": relative[:n_signal] + origin}


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
    from biocl.data.speech import envelope_features, mel_features

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


def pink_noise(n_sources: int, n_samples: int, sfreq_hz: float, rng: np.random.Generator,
               *, band_hz: float = 60.0) -> np.ndarray:
    """Independent 1/f (pink) time courses, unit variance below ``band_hz``.

    Power falls as 1/f above 0.5 Hz and is flat below it; there is no DC.
    """
    spectrum = rng.standard_normal((n_sources, n_samples // 2 + 1)) + 1j * rng.standard_normal(
        (n_sources, n_samples // 2 + 1))
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq_hz)
    spectrum *= 1.0 / np.sqrt(np.maximum(freqs, 0.5))[None, :]
    spectrum[:, 0] = 0.0
    in_band = freqs < band_hz
    power = 2.0 * (np.abs(spectrum[:, in_band]) ** 2).sum(axis=1) / n_samples**2
    return (np.fft.irfft(spectrum, n_samples) / np.sqrt(power)[:, None]).astype(np.float32)


def alpha_bursts(n_sources: int, n_samples: int, sfreq_hz: float, frequency_hz: float,
                 rng: np.random.Generator) -> np.ndarray:
    """~10 Hz rhythm in bursts (0.3-2 s on, random gaps), unit variance per source."""
    t = np.arange(n_samples) / sfreq_hz
    out = np.zeros((n_sources, n_samples), dtype=np.float32)
    for i in range(n_sources):
        gate = np.zeros(n_samples)
        cursor = rng.uniform(0, 2.0)
        while cursor < t[-1]:
            length = rng.uniform(0.3, 2.0)
            a, b = int(cursor * sfreq_hz), int(min(cursor + length, t[-1]) * sfreq_hz)
            gate[a:b] = np.hanning(max(b - a, 2))[: b - a] * rng.uniform(0.5, 1.5)
            cursor += length + rng.exponential(1.5)
        phase = 2 * np.pi * np.cumsum(frequency_hz + 0.3 * rng.standard_normal(n_samples) / np.sqrt(sfreq_hz)) / sfreq_hz
        wave = gate * np.sin(phase)
        out[i] = wave / (wave.std() + 1e-12)
    return out


def upsample(signal: np.ndarray, from_hz: float, to_hz: float, n_out: int) -> np.ndarray:
    """Band-limited resampling along the last axis (polyphase), cut or padded to ``n_out``."""
    from scipy.signal import resample_poly

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    out = resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)
    if out.shape[-1] < n_out:
        out = np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, n_out - out.shape[-1])])
    return out[..., :n_out]
