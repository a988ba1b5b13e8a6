"""Data quality of a brain-to-speech run's recordings, measured before training (``results["data_quality"]``).

What a reader checks before trusting a decoder: where the sensors are and which are bad
(from the file and the BIDS ``channels.tsv``), what the spectrum looks like as recorded and
after preprocessing (resampling, baseline, robust scaling, clamping), how many samples the
robust scaler clamped, and whether the brain responds to word onsets at all.

Every measure is bounded in cost: spectra of at most :data:`MAX_RAW_S` seconds of each of
at most :data:`MAX_RECORDINGS` recordings, and clamping and the evoked response on at most
:data:`MAX_WINDOWS` evenly spaced windows per recording; the titles say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.signal import welch

from biocl.data.meg.windows import PreparedRecording, WindowConfig, extract_brain

__all__ = ["recording_quality", "sensor_layout", "power_spectra", "clamped_samples", "evoked_response",
           "MAX_RECORDINGS", "MAX_RAW_S", "MAX_WINDOWS"]

#: Spectra use at most this many recordings (the first ones, in reading order).
MAX_RECORDINGS = 4
#: ... and at most this many seconds of each (from its start).
MAX_RAW_S = 120.0
#: Clamping and the evoked response use at most this many windows per recording, evenly spaced.
MAX_WINDOWS = 150
_WELCH_S = 2.0


def _evenly_spaced(values: np.ndarray, at_most: int) -> np.ndarray:
    if values.size <= at_most:
        return values
    return values[np.linspace(0, values.size - 1, at_most).round().astype(int)]


def sensor_layout(recording: Any) -> dict[str, Any]:
    """Scatter spec of one recording's 2-D sensor positions, bad channels and unplaced ones marked.

    Parameters
    ----------
    recording : Recording
        As read (:class:`biocl.data.meg.recording.Recording`): ``positions`` in [0, 1] and
        ``raw.info["bads"]`` (the file's bads and the BIDS ``channels.tsv`` ones).
    """
    bads = set(recording.raw.info["bads"])
    placed = np.asarray(recording.positions).any(axis=1)
    labels = ["bad" if name in bads else "good" for name in recording.ch_names]
    keep = np.flatnonzero(placed)
    return {"kind": "scatter",
            "title": f"Sensor layout of sub-{recording.subject} ses-{recording.session} ({len(bads)} bad of "
                     f"{len(labels)} channels; {int((~placed).sum())} without a position, not drawn)",
            "x": np.asarray(recording.positions)[keep, 0].round(4).tolist(),
            "y": np.asarray(recording.positions)[keep, 1].round(4).tolist(),
            "labels": [labels[i] for i in keep],
            "xlabel": "sensor x (scaled 0-1, azimuthal projection)", "ylabel": "sensor y (scaled 0-1)"}


def _good_channel_types(recording: Any) -> np.ndarray:
    """Each channel's type (``mag``, ``grad``, ``eeg``), ``""`` for bad channels (left out of every mean)."""
    bads = set(recording.raw.info["bads"])
    return np.array(["" if name in bads else kind for name, kind in
                     zip(recording.ch_names, recording.raw.get_channel_types())], dtype=object)


def _log_spectrum(data: np.ndarray, sfreq_hz: float, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch frequencies (Hz) and log10 power averaged over the rows (channels or windows x channels)."""
    freqs, power = welch(np.asarray(data, dtype=np.float64), fs=sfreq_hz, nperseg=min(nperseg, data.shape[-1]),
                         axis=-1)
    power = power.reshape(-1, freqs.size).mean(axis=0)
    return freqs, np.log10(np.maximum(power, np.finfo(float).tiny))


def power_spectra(recordings: Sequence[Any], prepared: Sequence[PreparedRecording], config: WindowConfig,
                  windows: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    """Two curve specs: log power vs Hz per channel type as recorded, and of the preprocessed windows.

    Welch spectra (``_WELCH_S``-second segments of the raw signal; whole windows after
    preprocessing), averaged over the channels of a type and over the recordings used.

    Parameters
    ----------
    recordings : sequence of Recording
        As read (raw signal at its own rate).
    prepared : sequence of PreparedRecording
        The same recordings resampled, with fitted scalers.
    config : WindowConfig
    windows : sequence of array (n, C, T)
        Preprocessed windows of the first prepared recordings (:func:`extract_brain`), at
        most :data:`MAX_RECORDINGS` of them are used.
    """
    used = list(range(min(len(recordings), len(windows), MAX_RECORDINGS)))
    before: dict[str, list[np.ndarray]] = {}
    after: dict[str, list[np.ndarray]] = {}
    freqs_before = freqs_after = None
    for r in used:
        raw = recordings[r].raw
        types = _good_channel_types(recordings[r])
        sfreq = float(raw.info["sfreq"])
        stop = min(raw.n_times, int(MAX_RAW_S * sfreq))
        data = raw.get_data(stop=stop)
        for kind in sorted(set(types) - {""}):
            freqs_before, power = _log_spectrum(data[types == kind], sfreq, int(_WELCH_S * sfreq))
            before.setdefault(kind, []).append(power)
            if windows[r].size:
                freqs_after, power = _log_spectrum(windows[r][:, types == kind], prepared[r].sfreq_hz,
                                                   config.n_times)
                after.setdefault(kind, []).append(power)
    note = f"mean over good channels; first {len(used)} recording(s), at most {MAX_RAW_S:g} s each"
    specs = []
    for label, freqs, spectra, unit in (
            ("as recorded", freqs_before, before, "log10 power (SI unit^2/Hz)"),
            ("after preprocessing (resampled, baseline-corrected, robust-scaled, clamped)", freqs_after, after,
             "log10 power (scaled unit^2/Hz)")):
        if freqs is None or not spectra:
            continue
        specs.append({"kind": "curve", "title": f"Power spectrum per channel type {label} (Welch; {note})",
                      "x": np.round(freqs, 3).tolist(),
                      "series": {kind: np.round(np.mean(rows, axis=0), 4).tolist() for kind, rows in spectra.items()},
                      "xlabel": "frequency (Hz)", "ylabel": unit})
    return specs


def clamped_samples(windows: Sequence[np.ndarray], clamp: float | None) -> dict[str, Any]:
    """Samples at the clamp bound (``|x| >= clamp``) among preprocessed windows, in total and as a fraction."""
    checked = int(sum(w.size for w in windows))
    clamped = 0 if clamp is None else int(sum(int(np.count_nonzero(np.abs(w) >= clamp)) for w in windows))
    return _clamp_counts(clamp, checked, clamped)


def _clamp_counts(clamp: float | None, checked: int, clamped: int) -> dict[str, Any]:
    return {"clamp_bound": None if clamp is None else float(clamp), "samples_checked": int(checked),
            "clamped_samples": int(clamped), "clamped_fraction": round(clamped / checked, 6) if checked else 0.0}


def evoked_response(recordings: Sequence[Any], evoked: Sequence[np.ndarray | None], n_epochs: int,
                    config: WindowConfig) -> dict[str, Any] | None:
    """Curve spec of the word-onset evoked response per channel type (time in s from the onset).

    Parameters
    ----------
    recordings : sequence of Recording
        As read (channel types and bad channels).
    evoked : sequence of array (C, T) | None
        Each recording's mean over its word-onset epochs, preprocessed (None: no epoch).
    n_epochs : int
        The epochs averaged, over all recordings (for the title).
    config : WindowConfig

    Each evoked response is summarised per channel type as its global field power (RMS
    over the type's good channels, so opposite polarities do not cancel), then averaged
    over the recordings.
    """
    series: dict[str, list[np.ndarray]] = {}
    for recording, mean in zip(recordings, evoked):
        if mean is None:
            continue
        types = _good_channel_types(recording)
        for kind in sorted(set(types) - {""}):
            series.setdefault(kind, []).append(np.sqrt(np.mean(mean[types == kind] ** 2, axis=0)))
    if not series:
        return None
    times = config.tmin_s + np.arange(config.n_times) / config.sfreq_hz
    return {"kind": "curve",
            "title": f"Evoked response to word onsets per channel type ({n_epochs} epochs, at most {MAX_WINDOWS} "
                     "per recording, evenly spaced; preprocessed; RMS over good channels of the epoch mean)",
            "x": np.round(times, 4).tolist(),
            "series": {kind: np.round(np.mean(rows, axis=0), 5).tolist() for kind, rows in series.items()},
            "xlabel": "time from word onset (s)", "ylabel": "global field power (scaled units)"}


def _onset_starts(prepared: PreparedRecording, config: WindowConfig) -> np.ndarray:
    """Window starts (samples) of -tmin..tmax s epochs around every word onset that fits in the recording."""
    starts = np.array([int(round((e.onset_s + config.tmin_s) * prepared.sfreq_hz)) for e in prepared.events],
                      dtype=np.int64)
    fits = (starts >= 0) & (starts + config.n_times <= prepared.brain.shape[1])
    return _evenly_spaced(np.unique(starts[fits]), MAX_WINDOWS)


def recording_quality(recordings: Sequence[Any], prepared: Sequence[PreparedRecording], config: WindowConfig,
                      train_starts: Sequence[np.ndarray]) -> dict[str, Any]:
    """``results["data_quality"]`` of a brain-to-speech run: layout, spectra, clamping, evoked response.

    Parameters
    ----------
    recordings : sequence of Recording
        As read, in the order of ``prepared``.
    prepared : sequence of PreparedRecording
        Resampled, with their robust scalers fitted.
    config : WindowConfig
    train_starts : sequence of array of int
        Brain window starts of each recording's training windows (the windows the spectra
        after preprocessing and the clamped-sample count are measured on).

    Returns
    -------
    dict
        ``figures`` (sensor layout, two spectra, evoked response), ``tables`` (bad channels
        and clamped samples per recording) and ``counts``.
    """
    # One recording at a time, so memory stays that of MAX_WINDOWS windows (bar the spectra's few).
    rows, spectrum_windows, evoked = [], [], []
    checked = clamped = n_epochs = 0
    for r, (recording, rec, starts) in enumerate(zip(recordings, prepared, train_starts)):
        windows = extract_brain(rec, _evenly_spaced(np.asarray(starts), MAX_WINDOWS), config)
        one = clamped_samples([windows], config.clamp)
        checked, clamped = checked + one["samples_checked"], clamped + one["clamped_samples"]
        rows.append([f"sub-{recording.subject}", recording.session, recording.task, len(recording.ch_names),
                     ", ".join(recording.raw.info["bads"]) or "none", one["clamped_samples"], one["samples_checked"]])
        if r < MAX_RECORDINGS:
            spectrum_windows.append(windows)
        epochs = extract_brain(rec, _onset_starts(rec, config), config)
        n_epochs += epochs.shape[0]
        evoked.append(epochs.mean(axis=0) if epochs.shape[0] else None)
    total = _clamp_counts(config.clamp, checked, clamped)
    figures = [sensor_layout(recordings[0]), *power_spectra(recordings, prepared, config, spectrum_windows)]
    response = evoked_response(recordings, evoked, n_epochs, config)
    if response is not None:
        figures.append(response)
    counts = {"recordings": len(recordings),
              "bad_channels": int(sum(len(rec.raw.info["bads"]) for rec in recordings)), **total}
    table = {"caption": f"Bad channels (file and channels.tsv) and samples clamped at |x| >= {config.clamp} by the "
                        f"robust scaler, on at most {MAX_WINDOWS} evenly spaced training windows per recording.",
             "columns": ["Subject", "Session", "Task", "Channels", "Bad channels", "Clamped samples",
                         "Samples checked"], "rows": rows}
    return {"figures": figures, "tables": [table], "counts": counts}
