"""Sensors, sources, forward model and noise of the simulated M/EEG.

Sensors are real layouts that MNE ships offline. MEG helmets are built by lifting a 2-D
layout (KIT-157, CTF-275) onto a sphere of radius 12 cm with radial point magnetometers
(``dev_head_t`` identity); EEG uses the 3-D ``biosemi64`` montage, average referenced.
Leadfields come from ``mne.make_forward_solution`` with a spherical head model and a
discrete source space of fixed-orientation dipoles (tangential, since radial dipoles are
silent to MEG in a sphere).

Sources, per subject, in head coordinates around the sphere's centre: the signal sources
of :mod:`biocl.data.meg.simulate.generative` (auditory cortex as vertical dipoles, the M100
pattern); many random background dipoles with independent 1/f (pink) activity; two
occipital dipoles with bursts of a ~10 Hz alpha rhythm. Every subject has its own head
position (a random rotation of a few degrees and a few millimetres of translation) and
its own source positions (anatomical jitter), hence its own leadfield. Line noise (a
fixed spatial pattern at the line frequency and its third harmonic), white sensor noise
and one bad channel complete each recording.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from biocl.data.meg.simulate.generative import MODEL_SFREQ_HZ
from biocl.utils.errors import BioclError

__all__ = ["SYSTEMS", "sensor_info", "subject_leadfields", "pink_noise", "alpha_bursts", "resample", "sensor_data",
           "window_statistics"]

#: Simulated acquisition systems: layout or montage name, channel type.
SYSTEMS = {"KIT-157": ("KIT-157", "mag"), "CTF-275": ("CTF-275", "mag"), "EEG-64": ("biosemi64", "eeg")}
_HELMET_RADIUS_M = 0.12
_MEG_ORIGIN_M = np.array([0.0, 0.0, 0.04])


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


def resample(signal: np.ndarray, from_hz: float, to_hz: float, n_out: int) -> np.ndarray:
    """Band-limited resampling along the last axis (polyphase), cut or padded to ``n_out``."""
    from scipy.signal import resample_poly

    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    out = resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1)
    if out.shape[-1] < n_out:
        out = np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, n_out - out.shape[-1])])
    return out[..., :n_out]


def sensor_data(sources: np.ndarray, leadfields: dict[str, np.ndarray], line_pattern: np.ndarray, alpha_hz: float,
                rng: np.random.Generator, *, sfreq_hz: float, duration_s: float, snr_db: float, line_freq_hz: float,
                shares: tuple[float, float, float], bad: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One recording's sensor data: the response to speech plus every kind of noise.

    Parameters
    ----------
    sources : np.ndarray
        ``(n_signal_sources, T_120)`` signal source activity at 120 Hz.
    leadfields : dict
        From :func:`subject_leadfields`.
    line_pattern : np.ndarray
        ``(n_channels,)`` spatial pattern of the line noise (the subject's room).
    alpha_hz : float
        The subject's alpha frequency, in Hz.
    rng : np.random.Generator
        Source of the noise.
    sfreq_hz, duration_s : float
        Rate (Hz) and length (s) of the recording.
    snr_db : float
        Single-channel SNR below 60 Hz, in dB, averaged over good channels.
    line_freq_hz : float
        Line frequency, in Hz.
    shares : (float, float, float)
        Shares of the noise variance below 60 Hz for alpha, line and white noise; the 1/f
        background takes the rest.
    bad : int
        Index of the bad channel (a loose sensor: 20 times noisier, wandering offset).

    Returns
    -------
    data : np.ndarray
        ``(n_channels, round(duration_s * sfreq_hz))`` float32, model units.
    signal_120 : np.ndarray
        ``(n_channels, T_120)`` the noiseless response at 120 Hz, model units.
    noise_power : float
        Mean noise variance below 60 Hz over good channels, model units squared.
    design_snr : float
        The SNR the noise was scaled to, in dB.
    """
    n_samples = int(round(duration_s * sfreq_hz))
    n_channels = leadfields["signal"].shape[0]
    good = np.ones(n_channels, dtype=bool)
    good[bad] = False
    signal_120 = leadfields["signal"] @ sources
    signal_var = signal_120.var(axis=1)
    noise_power = float(signal_var[good].mean()) / 10 ** (snr_db / 10)
    alpha_share, line_share, white_share = shares
    background_share = 1.0 - alpha_share - line_share - white_share

    def gain(share: float, unit_var: np.ndarray) -> float:
        return float(np.sqrt(share * noise_power / max(unit_var[good].mean(), 1e-30)))

    lf_bg, lf_alpha = leadfields["background"], leadfields["alpha"]
    k_bg = gain(background_share, (lf_bg**2).sum(axis=1))
    k_alpha = gain(alpha_share, (lf_alpha**2).sum(axis=1))
    k_line = gain(line_share, line_pattern**2)
    white_std = float(np.sqrt(white_share * noise_power * sfreq_hz / MODEL_SFREQ_HZ))
    data = (lf_bg.astype(np.float32) * k_bg) @ pink_noise(lf_bg.shape[1], n_samples, sfreq_hz, rng)
    data += (lf_alpha.astype(np.float32) * k_alpha) @ alpha_bursts(lf_alpha.shape[1], n_samples, sfreq_hz,
                                                                        alpha_hz, rng)
    t = np.arange(n_samples) / sfreq_hz
    drift = 1.0 + 0.2 * np.sin(2 * np.pi * t / rng.uniform(20, 60) + rng.uniform(0, 2 * np.pi))
    line = np.sqrt(2) * drift * np.sin(2 * np.pi * line_freq_hz * t + rng.uniform(0, 2 * np.pi))
    third_phase = rng.uniform(0, 2 * np.pi)
    # The third harmonic only where the rate can hold it: an acquisition system's analogue
    # anti-alias filter removes what lies above Nyquist (150 Hz at a 128 Hz EEG rate).
    if 3 * line_freq_hz < sfreq_hz / 2:
        line += 0.3 * np.sqrt(2) * np.sin(2 * np.pi * 3 * line_freq_hz * t + third_phase)
    data += np.outer((k_line * line_pattern).astype(np.float32), line.astype(np.float32))
    white = rng.standard_normal((n_channels, n_samples), dtype=np.float32)
    white *= white_std
    data += white
    del white
    data += (leadfields["signal"].astype(np.float32) @ resample(sources.astype(np.float32), MODEL_SFREQ_HZ,
                                                                    sfreq_hz, n_samples)).astype(np.float32)
    # The bad channel: a loose sensor, 20 times noisier with a wandering offset.
    typical = float(np.sqrt(noise_power))
    data[bad] += (20 * typical * rng.standard_normal(n_samples)
                  + 50 * typical * np.cumsum(rng.standard_normal(n_samples)) / np.sqrt(n_samples)).astype(np.float32)
    noise_var = (k_bg**2 * (lf_bg**2).sum(axis=1) + k_alpha**2 * (lf_alpha**2).sum(axis=1)
                 + k_line**2 * line_pattern**2 + white_std**2 * MODEL_SFREQ_HZ / sfreq_hz)
    design_snr = 10 * np.log10(signal_var[good].mean() / noise_var[good].mean())
    return data, signal_120, noise_power, float(design_snr)


def window_statistics(data: np.ndarray, signal_120: np.ndarray, sfreq_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Noise covariance across channels and total standard deviation, as a decoder's windows see them.

    The data are resampled to 120 Hz, cut into 3 s windows (the decoder's length) and each
    window loses its per-channel mean; the noise is the data minus the noiseless response.
    Slow 1/f drifts that span many windows therefore do not count, as they do not in a
    baseline-corrected window.
    """
    n_window = int(3 * MODEL_SFREQ_HZ)
    data_120 = resample(data, sfreq_hz, MODEL_SFREQ_HZ, signal_120.shape[1])
    n_windows = signal_120.shape[1] // n_window

    def windows(x: np.ndarray) -> np.ndarray:
        cut = x[:, : n_windows * n_window].reshape(x.shape[0], n_windows, n_window)
        return (cut - cut.mean(axis=2, keepdims=True)).reshape(x.shape[0], -1)

    noise = windows(data_120 - signal_120)
    total = windows(data_120)
    return noise @ noise.T / noise.shape[1], total.std(axis=1)
