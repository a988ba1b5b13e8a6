"""A simulated BIDS data set of M/EEG recorded while people listen to speech, and its oracle.

:func:`simulate_meg_bids` writes what a real experiment would leave on disk, so that the
demo runs the real readers (:func:`biocl.data.meg.bids.read_bids`):

* ``sub-XX/ses-Y/meg/sub-XX_ses-Y_task-listen_meg.fif`` (through ``mne_bids.write_raw_bids``)
  or, for EEG, the same layout with ``_eeg.fif`` (BIDS-like: BIDS stores EEG as
  BrainVision/EDF, so mne-bids refuses it and the reader falls back to ``mne.io.read_raw``);
* ``*_channels.tsv`` with one bad channel per recording, ``*_events.tsv`` with one row per
  word (plain columns: ``onset, duration, trial_type, word, sentence, word_index, sound,
  sound_onset, sample``), ``stimuli/*.wav``;
* ``derivatives/biocl-simulation/``: the generative model (``model.npz`` + ``model.json``)
  and ``simulation.json`` (parameters, description, SHA-256 of every file).

The generative model is described in :mod:`biocl.data.meg.simulate.generative` (responses) and
:mod:`biocl.data.meg.simulate.sensors` (sensors, sources, noise).

**SNR.** ``snr_db`` is the single-channel, single-window signal-to-noise ratio: the mean
over good channels of the variance of the speech-driven part of the signal divided by the
mean variance of everything else, both measured below 60 Hz (what survives resampling to
120 Hz, the decoder's rate). A 3 s window at the default -20 dB is dominated by noise;
decoding works only by pooling channels and time. For scale (3 KIT-157 subjects x 240 s, 55
test segments, chance top-10 18 %): at -10 dB a lagged ridge already reaches 92 % top-10
(too easy); at -20 dB the oracle reaches 100 % and ridge 47 %; at -27 dB 90 % and 25 %.

**Oracle.** :func:`oracle_scores` is the decoder that knows the generative model: the
ceiling against which chance, ridge and the deep model are read.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biocl.data.meg.simulate import writer
from biocl.data.meg.simulate import generative
from biocl.data.meg.simulate import sensors
from biocl.data.speech.simulate import SPEECH_SFREQ_HZ, Stimulus, real_stimuli, synthetic_stimuli
from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_files, write_json

__all__ = ["SimulatedDataset", "simulate_meg_bids", "load_simulation", "load_model", "oracle_scores", "DERIVATIVES"]

#: Where the generative model is stored, relative to the data set root.
DERIVATIVES = writer.DERIVATIVES
# Typical noise level of the written data below 60 Hz: 300 fT for MEG, 10 uV for EEG.
_DATA_SCALE = {"mag": 300e-15, "eeg": 10e-6}


@dataclass
class SimulatedDataset:
    """What :func:`simulate_meg_bids` wrote.

    Attributes
    ----------
    root : Path
        The BIDS root.
    recordings : list of Path
        The raw files, one per subject and session.
    subjects, sessions : list of str
        BIDS labels.
    task : str
        BIDS task label.
    system : str
        Simulated acquisition system.
    description : str
        One paragraph saying what was simulated (and that it is simulated).
    sha256 : str
        SHA-256 over every file of the data set (names and contents), the model included.
    model_path : Path
        ``derivatives/biocl-simulation/model.npz``.
    parameters : dict
        Every argument of the simulation.
    snr_db : dict
        Design SNR of each recording (``"sub-01_ses-0"``: dB), as defined in the module notes.
    """

    root: Path
    recordings: list[Path]
    subjects: list[str]
    sessions: list[str]
    task: str
    system: str
    description: str
    sha256: str
    model_path: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    snr_db: dict[str, float] = field(default_factory=dict)


def simulate_meg_bids(
    out_dir: str | Path,
    *,
    n_subjects: int = 4,
    n_sessions: int = 1,
    system: str = "KIT-157",
    duration_s: float = 240.0,
    sfreq_hz: float = 600.0,
    snr_db: float = -20.0,
    seed: int = 0,
    speech_dir: str | Path | None = None,
    line_freq_hz: float = 50.0,
    trf_strength: float = 1.0,
    word_strength: float = 1.0,
    subject_variability: float = 0.5,
    n_words: int = 40,
    n_sentences: int | None = None,
    n_mel_bands: int = 8,
    n_random_sources: int = 4,
    n_background: int = 40,
    alpha_share: float = 0.15,
    line_share: float = 0.05,
    white_share: float = 0.15,
    head_rotation_deg: float = 4.0,
    head_translation_m: float = 0.004,
    task: str = "listen",
    overwrite: bool = False,
) -> SimulatedDataset:
    """Simulate subjects listening to speech and write it as a BIDS data set.

    Parameters
    ----------
    out_dir : str | Path
        The data set root to create. It is built in a temporary sibling folder and renamed
        into place when complete.
    n_subjects, n_sessions : int
        Subjects, and sessions per subject (each hears every sentence again, in a new order).
    system : {"KIT-157", "CTF-275", "EEG-64"}
        Sensor array (see :mod:`biocl.data.meg.simulate.generative`).
    duration_s : float
        Length of each recording, in seconds.
    sfreq_hz : float
        Sampling rate of the written recordings, in Hz.
    snr_db : float
        Single-channel SNR below 60 Hz, in dB (module notes).
    seed : int
        Everything random derives from it: the same arguments give the same files.
    speech_dir : str | Path | None
        Folder of real WAVs with word-timing JSONs (LibriVox style) used as stimuli, cycled
        to fill each recording; procedural speech-like sentences when None.
    line_freq_hz : float
        Power-line frequency, in Hz.
    trf_strength, word_strength : float
        RMS of the acoustic (TRF) and word-evoked parts of the source activity (relative).
    subject_variability : float
        Spread of the TRF weights between subjects, relative to their shared part.
    n_words : int
        Vocabulary size of the procedural speech.
    n_sentences : int | None
        Distinct procedural sentences; by default as many as fit in one recording with
        the longest pauses, so every subject hears every sentence.
    n_mel_bands : int
        Mel bands of the acoustic drive.
    n_random_sources, n_background : int
        Extra signal sources (besides auditory and temporal, bilateral) and background dipoles.
    alpha_share, line_share, white_share : float
        Shares of the noise variance below 60 Hz taken by alpha bursts, line noise and
        white sensor noise; the 1/f background takes the rest.
    head_rotation_deg, head_translation_m : float
        Standard deviations of each subject's head position (degrees, metres).
    task : str
        BIDS task label.
    overwrite : bool
        Replace a complete data set already at ``out_dir`` (an incomplete one is always replaced).

    Returns
    -------
    SimulatedDataset

    Raises
    ------
    BioclError
        For an unknown system, a recording too short for one sentence, a sampling rate
        below 240 Hz, noise shares that do not leave room for the background, or an
        existing data set without ``overwrite``.
    """
    parameters = {key: (str(value) if isinstance(value, Path) else value) for key, value in locals().items()
                  if key not in ("out_dir", "overwrite")}
    out_dir = Path(out_dir)
    _check_arguments(out_dir, system, sfreq_hz, alpha_share + line_share + white_share, overwrite)
    streams = np.random.SeedSequence(seed).spawn(4)
    speech_rng, response_rng = np.random.default_rng(streams[0]), np.random.default_rng(streams[1])
    subject_seeds = streams[2].spawn(n_subjects)

    stimuli = _stimuli(speech_dir, duration_s, n_sentences, n_words, speech_rng)
    drives, silence, feature_names = generative.acoustic_drive([s.wave for s in stimuli], SPEECH_SFREQ_HZ,
                                                       n_mel_bands=n_mel_bands)
    vocabulary = sorted({word for s in stimuli for word, _, _ in s.words})
    tokens = [(np.array([int(round(onset * generative.MODEL_SFREQ_HZ)) for _, onset, _ in s.words]),
               np.array([vocabulary.index(word) for word, _, _ in s.words])) for s in stimuli]
    n_sources = 4 + n_random_sources
    responses = generative.draw_responses(n_subjects, n_sources, len(feature_names), len(vocabulary), response_rng,
                                  subject_variability=subject_variability)
    generative.scale_responses(responses, drives, tokens, trf_strength, word_strength)

    info, sphere, origin = sensors.sensor_info(system, sfreq_hz, line_freq_hz)
    ch_type = sensors.SYSTEMS[system][1]
    staging = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        writer.write_stimuli(staging, stimuli)
        subjects = [f"{i + 1:02d}" for i in range(n_subjects)]
        sessions = [str(i) for i in range(n_sessions)]
        model_parts: dict[str, list[np.ndarray]] = {"leadfield": [], "noise_cov": [], "total_std": []}
        recordings, snr_by_recording, bads = [], {}, {}
        for s, subject in enumerate(subjects):
            subject_rng = np.random.default_rng(subject_seeds[s])
            leadfields = sensors.subject_leadfields(info, sphere, origin, subject_rng, n_random_sources=n_random_sources,
                                               n_background=n_background, head_rotation_deg=head_rotation_deg,
                                               head_translation_m=head_translation_m)
            alpha_hz = float(subject_rng.uniform(9.0, 11.5))
            line_pattern = subject_rng.normal(1.0, 0.5, len(info["ch_names"]))
            trf = responses["trf"][s]
            kernels = responses["word_kernels"] * responses["word_gain"][s][None, :, None]
            covs, stds, scale = [], [], None
            for session in sessions:
                rng = np.random.default_rng(subject_rng.integers(2**63))
                schedule = generative.schedule_stimuli(stimuli, duration_s, rng, cycle=speech_dir is not None)
                timeline, frames, ids = generative.drive_timeline(schedule, drives, tokens, silence, duration_s)
                sources = generative.predict_sources(trf, kernels, timeline, frames, ids)
                bad = int(rng.integers(len(info["ch_names"])))
                data, signal_120, noise_power, design_snr = sensors.sensor_data(
                    sources, leadfields, line_pattern, alpha_hz, rng, sfreq_hz=sfreq_hz, duration_s=duration_s,
                    snr_db=snr_db, line_freq_hz=line_freq_hz, shares=(alpha_share, line_share, white_share), bad=bad)
                noise_cov, total_std = sensors.window_statistics(data, signal_120, sfreq_hz)
                scale = scale if scale is not None else _DATA_SCALE[ch_type] / np.sqrt(noise_power)
                data *= scale
                covs.append(noise_cov * scale**2)
                stds.append(total_std * scale)
                label = f"sub-{subject}_ses-{session}"
                snr_by_recording[label] = design_snr
                bads.setdefault(subject, []).append(info["ch_names"][bad])
                recordings.append(writer.write_recording(staging, info, data, subject, session, task, ch_type, bad,
                                                   schedule, stimuli, s))
            model_parts["leadfield"].append(leadfields["signal"] * scale)
            model_parts["noise_cov"].append(np.mean(covs, axis=0))
            model_parts["total_std"].append(np.mean(stds, axis=0))
        description = writer.describe(system, n_subjects, n_sessions, duration_s, sfreq_hz, snr_db, stimuli,
                                    speech_dir, n_sources, n_background, feature_names, len(vocabulary))
        writer.write_dataset_files(staging, description, seed)
        model = generative.GenerativeModel(
            acoustic=np.concatenate(drives, axis=1), stimulus_offsets=np.cumsum([0] + [d.shape[1] for d in drives]),
            silence=silence, word_stimulus=np.concatenate([np.full(len(t[0]), i) for i, t in enumerate(tokens)]),
            word_frame=np.concatenate([t[0] for t in tokens]), word_id=np.concatenate([t[1] for t in tokens]),
            trf=responses["trf"].astype(np.float32), word_kernels=responses["word_kernels"].astype(np.float32),
            word_gain=responses["word_gain"].astype(np.float32),
            leadfield=np.stack(model_parts["leadfield"]).astype(np.float32),
            noise_cov=np.stack(model_parts["noise_cov"]), total_std=np.stack(model_parts["total_std"]),
            meta={"subjects": subjects, "sessions": sessions, "task": task, "system": system,
                  "ch_names": list(info["ch_names"]), "stimuli": [s.name for s in stimuli],
                  "sentences": [s.sentence for s in stimuli], "vocabulary": vocabulary, "features": feature_names,
                  "sfreq_hz": generative.MODEL_SFREQ_HZ, "bads": bads, "parameters": parameters,
                  "units": "T" if ch_type == "mag" else "V"},
        )
        writer.save_model(staging / DERIVATIVES, model)
        files = [p for p in staging.rglob("*") if p.is_file()]
        digest = sha256_files(files, root=staging)
        relative = [str(p.relative_to(staging)) for p in recordings]
        write_json(staging / DERIVATIVES / "simulation.json", {
            "description": description, "sha256": digest, "recordings": relative, "subjects": subjects,
            "sessions": sessions, "task": task, "system": system, "parameters": parameters,
            "snr_db": snr_by_recording, "model": str(DERIVATIVES / "model.npz"),
        })
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_simulation(out_dir)


def _check_arguments(out_dir: Path, system: str, sfreq_hz: float, noise_shares: float, overwrite: bool) -> None:
    if system not in sensors.SYSTEMS:
        raise BioclError(f"unknown system {system!r}", hint=f"choose one of {sorted(sensors.SYSTEMS)}")
    if sfreq_hz < 240.0:
        raise BioclError(f"sampling rate {sfreq_hz:g} Hz is below 240 Hz", hint="simulate at 240 Hz or more")
    if noise_shares >= 1.0:
        raise BioclError("alpha, line and white noise shares leave nothing for the 1/f background",
                         hint="keep alpha_share + line_share + white_share below 1")
    complete = (out_dir / DERIVATIVES / "simulation.json").exists()
    if complete and not overwrite:
        raise BioclError("a simulated data set already exists here", path=out_dir,
                         hint="choose another folder or pass overwrite=True (--overwrite)")


def _stimuli(speech_dir: str | Path | None, duration_s: float, n_sentences: int | None, n_words: int,
             rng: np.random.Generator) -> list[Stimulus]:
    if speech_dir is not None:
        stimuli = real_stimuli(speech_dir)
        if generative.LEAD_S + stimuli[0].duration_s + generative.MAX_PAUSE_S > duration_s:
            raise BioclError(f"a recording of {duration_s:g} s is too short for one stimulus", path=speech_dir,
                             hint="simulate longer recordings")
        return stimuli
    # Procedural sentences last about 3.8 s; draw more than fit, then keep those that fit.
    stimuli = synthetic_stimuli(n_sentences or int(duration_s / 4.0) + 4, rng, n_words=n_words)
    if n_sentences is not None:
        return stimuli
    lengths = np.cumsum([s.duration_s + generative.MAX_PAUSE_S for s in stimuli]) + generative.LEAD_S
    n_fit = int(np.searchsorted(lengths, duration_s, side="right"))
    if n_fit == 0:
        raise BioclError(f"a recording of {duration_s:g} s is too short for one sentence",
                         hint="simulate recordings of at least 10 s")
    return stimuli[:n_fit]


def load_simulation(root_or_model: str | Path | SimulatedDataset) -> SimulatedDataset:
    """The :class:`SimulatedDataset` of a data set written by :func:`simulate_meg_bids`.

    Parameters
    ----------
    root_or_model : str | Path | SimulatedDataset
        The data set root, its ``model.npz``, or a dataset (returned as is).

    Raises
    ------
    BioclError
        If the folder holds no complete simulation.
    """
    if isinstance(root_or_model, SimulatedDataset):
        return root_or_model
    path = Path(root_or_model)
    root = path.parent.parent.parent if path.name == "model.npz" else path
    record_path = root / DERIVATIVES / "simulation.json"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        recordings = [root / p for p in record["recordings"]]
        dataset = SimulatedDataset(root=root, recordings=recordings, subjects=record["subjects"],
                                   sessions=record["sessions"], task=record["task"], system=record["system"],
                                   description=record["description"], sha256=record["sha256"],
                                   model_path=root / record["model"], parameters=record["parameters"],
                                   snr_db=record["snr_db"])
    except FileNotFoundError as exc:
        raise BioclError("no simulation here (simulation.json missing)", path=record_path,
                         hint="simulate the data set again (biocl simulate meg)") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BioclError(f"the simulation record is damaged ({exc})", path=record_path,
                         hint="simulate the data set again") from exc
    missing = [p for p in dataset.recordings + [dataset.model_path] if not p.exists()]
    if missing:
        raise BioclError("the simulated data set is incomplete", path=missing[0], hint="simulate it again")
    return dataset


def load_model(dataset_or_model_path: str | Path | SimulatedDataset) -> generative.GenerativeModel:
    """The generative model of a simulated data set (read once, then kept in memory)."""
    if isinstance(dataset_or_model_path, SimulatedDataset):
        path = dataset_or_model_path.model_path
    else:
        path = Path(dataset_or_model_path)
        if path.is_dir():
            path = path / DERIVATIVES / "model.npz"
    if not path.is_file():
        raise BioclError("no generative model here", path=path, hint="give a data set written by biocl simulate meg")
    return writer.read_model(str(path.resolve()), path.stat().st_mtime_ns)


def oracle_scores(
    dataset_or_model_path: str | Path | SimulatedDataset,
    subject: str,
    brain_windows: np.ndarray,
    speech_windows: Sequence[tuple[str | Path, float]],
    *,
    brain_lag_s: float = 0.15,
    sfreq_hz: float = 120.0,
) -> np.ndarray:
    """Scores of the decoder that knows the generative model: the ceiling of the benchmark.

    For every candidate the oracle predicts the noiseless sensor response of this subject
    (the subject's TRFs and word responses applied to the stimulus, projected through the
    subject's leadfield) over the brain window. It then whitens observation and prediction
    with the model's noise covariance and scores ``<W b, W p> / |W p|``: the generalised
    likelihood ratio for "this window holds the prediction at an unknown amplitude, plus
    Gaussian noise", which ranks candidates as a matched filter does.

    Before scoring, each window and each prediction loses its per-channel mean (so
    baseline correction does not matter), observed channels are divided by their standard
    deviation over all given windows and predictions by the model's standard deviation of
    that channel in 3 s windows (so per-channel robust scaling does not matter), and the
    subject's bad channels are left out. Time samples are treated as independent, so the
    oracle is a strong decoder with full knowledge of the model, not a proven optimum.

    Parameters
    ----------
    dataset_or_model_path : SimulatedDataset | str | Path
        The simulation (dataset, its root, or ``model.npz``).
    subject : str
        BIDS subject label of the windows.
    brain_windows : np.ndarray
        ``(n_windows, n_channels, n_times)`` brain windows at ``sfreq_hz`` (preprocessed as
        the decoder sees them), channels in the recording's order.
    speech_windows : sequence of (sound file, start_s)
        The candidates: the stimulus file (path or name) and the start of the speech
        window inside it, in seconds (may be negative or run past the file: silence).
    brain_lag_s : float
        How much later than the speech window the brain window starts, in seconds.
    sfreq_hz : float
        Rate of ``brain_windows``; must be the model's 120 Hz.

    Returns
    -------
    np.ndarray
        ``(n_windows, n_candidates)`` float64; higher is more likely.
    """
    model = load_model(dataset_or_model_path)
    if abs(sfreq_hz - model.meta["sfreq_hz"]) > 1e-6:
        raise ValueError(f"the oracle works at {model.meta['sfreq_hz']} Hz, not {sfreq_hz} Hz")
    s = model.subject_index(subject)
    brain = np.asarray(brain_windows, dtype=np.float64)
    n_windows, n_channels, n_times = brain.shape
    if n_channels != model.leadfield.shape[1]:
        raise ValueError(f"brain windows have {n_channels} channels; the simulation has {model.leadfield.shape[1]}")
    good = np.array([name not in set(model.meta["bads"][str(subject)]) for name in model.meta["ch_names"]])
    predicted = np.stack([_predict_window(model, s, name, start_s + brain_lag_s, n_times)
                          for name, start_s in speech_windows])[:, good]
    observed = brain[:, good]
    observed = observed - observed.mean(axis=2, keepdims=True)
    predicted = predicted - predicted.mean(axis=2, keepdims=True)
    spread = observed.std(axis=(0, 2), keepdims=True)
    observed /= np.where(spread > 0, spread, 1.0)
    total_std = model.total_std[s][good]
    predicted /= total_std[None, :, None]
    noise_cov = model.noise_cov[s][np.ix_(good, good)] / np.outer(total_std, total_std)
    values, vectors = np.linalg.eigh(noise_cov)
    values = np.maximum(values, 1e-3 * values.max())
    whitener = vectors @ np.diag(values**-0.5) @ vectors.T
    observed_w = np.einsum("dc,nct->ndt", whitener, observed).reshape(n_windows, -1)
    predicted_w = np.einsum("dc,mct->mdt", whitener, predicted).reshape(len(predicted), -1)
    return observed_w @ predicted_w.T / (np.linalg.norm(predicted_w, axis=1)[None, :] + 1e-12)


def _predict_window(model: generative.GenerativeModel, s: int, stimulus: str | Path, brain_start_s: float,
                    n_times: int) -> np.ndarray:
    """``(n_channels, n_times)`` noiseless sensor response from ``brain_start_s`` in the stimulus's time."""
    index = model.stimulus_index(str(stimulus))
    acoustic = model.stimulus_acoustic(index)
    trf = model.trf[s]
    n_lags = trf.shape[2]
    start = int(round(brain_start_s * model.meta["sfreq_hz"]))
    lo = start - n_lags + 1
    timeline = np.repeat(model.silence[:, None], n_times + n_lags - 1, axis=1)
    a, b = max(lo, 0), min(start + n_times, acoustic.shape[1])
    if a < b:
        timeline[:, a - lo:b - lo] = acoustic[:, a:b]
    mine = model.word_stimulus == index
    kernels = model.word_kernels * model.word_gain[s][None, :, None]
    sources = generative.predict_sources(trf, kernels, timeline, model.word_frame[mine] - lo, model.word_id[mine],
                                 start=n_lags - 1, n_frames=n_times)
    return model.leadfield[s] @ sources
