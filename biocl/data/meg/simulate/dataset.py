"""A simulated BIDS data set of M/EEG recorded while people listen to speech, and its oracle.

:func:`simulate_meg_bids` writes what a real experiment would leave on disk, so that the
demo runs the real readers (:func:`biocl.data.meg.bids.read_bids`):

* ``sub-XX/ses-Y/meg/sub-XX_ses-Y_task-listen_meg.fif`` (through ``mne_bids.write_raw_bids``)
  or, for EEG, the same layout with ``_eeg.fif`` (BIDS-like: BIDS stores EEG as
  BrainVision/EDF, so mne-bids refuses it and the reader falls back to ``mne.io.read_raw``);
* ``*_channels.tsv`` with one bad channel per recording, ``*_events.tsv`` with one row per
  word (plain columns: ``onset, duration, trial_type, word, sentence, word_index, sound,
  sound_onset, sample``), ``stimuli/*.wav``: one sentence per file, or with
  ``sentences_per_sound`` above 1 story-length files of several sentences (MEG-MASC style);
* ``derivatives/biocl-simulation/``: the generative model (``model.npz`` + ``model.json``)
  and ``simulation.json`` (parameters, description, SHA-256 of every file).

The generative model is described in :mod:`biocl.data.meg.simulate.generative` (responses) and
:mod:`biocl.data.meg.simulate.sensors` (sensors, sources, noise).

**SNR.** ``snr_db`` is the single-channel, single-window signal-to-noise ratio: the mean
over good channels of the variance of the speech-driven part of the signal divided by the
mean variance of everything else, both measured below 60 Hz (what survives resampling to
120 Hz, the decoder's rate). A 3 s window at -20 dB is dominated by noise;
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
from biocl.data.speech.simulate import SPEECH_SFREQ_HZ, Stimulus, real_stimuli, stories, synthetic_stimuli
from biocl.protocols.brain_speech import MegSimulationConfig
from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_files, write_json

__all__ = ["SimulatedDataset", "simulate_meg_bids", "simulation_parameters", "load_simulation", "load_model",
           "oracle_scores", "DERIVATIVES"]

#: Where the generative model is stored, relative to the data set root.
DERIVATIVES = writer.DERIVATIVES
# Typical noise level of the written data below 60 Hz: 300 fT for MEG, 10 uV for EEG.
_DATA_SCALE = {"mag": 300e-15, "eeg": 10e-6}
# Signal dipoles every simulation has: auditory and temporal cortex, both hemispheres.
_N_FIXED_SOURCES = 4


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
        Every parameter of the simulation (:func:`simulation_parameters`).
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


def simulation_parameters(config: MegSimulationConfig, seed: int) -> dict[str, Any]:
    """Every parameter of a simulation, as ``simulation.json`` and ``model.json`` record them.

    Parameters
    ----------
    config : MegSimulationConfig
        The simulated data set.
    seed : int
        The simulation's seed.

    Returns
    -------
    dict
        The config's fields with ``seed`` after ``snr_db``: the same parameters give the
        same dictionary, so a cache may key a data set on it.
    """
    items = list(config.model_dump().items())
    # One sentence per sound file is the layout every earlier simulation has: leaving the
    # default out keeps those files (and their cache keys) byte-identical.
    items = [(name, value) for name, value in items if not (name == "sentences_per_sound" and value == 1)]
    # The seed has always been recorded after the SNR; keeping its place keeps the files
    # of a simulation byte-identical.
    at = [name for name, _ in items].index("snr_db") + 1
    return dict([*items[:at], ("seed", seed), *items[at:]])


def simulate_meg_bids(out_dir: str | Path, config: MegSimulationConfig, *, seed: int = 0,
                      overwrite: bool = False) -> SimulatedDataset:
    """Simulate subjects listening to speech and write it as a BIDS data set.

    Parameters
    ----------
    out_dir : str | Path
        The data set root to create. It is built in a temporary sibling folder and renamed
        into place when complete.
    config : MegSimulationConfig
        Subjects, sensor system, recording length and rate, SNR (module notes), stimuli,
        response strengths, noise shares and head positions; a brain-to-speech protocol's
        ``data.simulation`` section.
    seed : int
        Everything random derives from it: the same config and seed give the same files.
    overwrite : bool
        Replace a complete data set already at ``out_dir`` (an incomplete one is always replaced).

    Returns
    -------
    SimulatedDataset

    Raises
    ------
    BioclError
        For an unknown system, a recording too short for one sentence, a sampling rate
        below the model's 120 Hz (or a line frequency above Nyquist), noise shares that do not leave room for the background, or an
        existing data set without ``overwrite``.
    """
    parameters = simulation_parameters(config, seed)
    out_dir = Path(out_dir)
    _check_arguments(out_dir, config, overwrite)
    streams = np.random.SeedSequence(seed).spawn(4)
    speech_rng, response_rng = np.random.default_rng(streams[0]), np.random.default_rng(streams[1])
    subject_seeds = streams[2].spawn(config.n_subjects)

    speech = _speech(config, speech_rng)
    responses = generative.draw_responses(config.n_subjects, _N_FIXED_SOURCES + config.n_random_sources,
                                          len(speech.features), len(speech.vocabulary), response_rng,
                                          subject_variability=config.subject_variability)
    generative.scale_responses(responses, speech.drives, speech.tokens, config.trf_strength, config.word_strength)
    staging = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        writer.write_stimuli(staging, speech.stimuli)
        written = _write_recordings(staging, config, speech, responses, subject_seeds)
        description = writer.describe(config.system, config.n_subjects, config.n_sessions, config.duration_s,
                                      config.sfreq_hz, config.snr_db, speech.stimuli, config.speech_dir,
                                      _N_FIXED_SOURCES + config.n_random_sources, config.n_background,
                                      speech.features, len(speech.vocabulary))
        writer.write_dataset_files(staging, description, seed)
        writer.save_model(staging / DERIVATIVES, _generative_model(config, speech, responses, written, parameters))
        files = [p for p in staging.rglob("*") if p.is_file()]
        write_json(staging / DERIVATIVES / "simulation.json", {
            "description": description, "sha256": sha256_files(files, root=staging),
            "recordings": [str(p.relative_to(staging)) for p in written.paths], "subjects": written.subjects,
            "sessions": written.sessions, "task": config.task, "system": config.system, "parameters": parameters,
            "snr_db": written.snr_db, "model": str(DERIVATIVES / "model.npz"),
        })
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_simulation(out_dir)


@dataclass
class _Speech:
    """The stimuli and what drives the responses to them, at the model's rate."""

    stimuli: list[Stimulus]
    drives: list[np.ndarray]
    silence: np.ndarray
    features: list[str]
    vocabulary: list[str]
    tokens: list[tuple[np.ndarray, np.ndarray]]


@dataclass
class _Written:
    """The recordings written, and what the generative model keeps of each subject."""

    subjects: list[str]
    sessions: list[str]
    paths: list[Path] = field(default_factory=list)
    snr_db: dict[str, float] = field(default_factory=dict)
    bads: dict[str, list[str]] = field(default_factory=dict)
    ch_names: list[str] = field(default_factory=list)
    ch_type: str = "mag"
    leadfield: list[np.ndarray] = field(default_factory=list)
    noise_cov: list[np.ndarray] = field(default_factory=list)
    total_std: list[np.ndarray] = field(default_factory=list)


def _speech(config: MegSimulationConfig, rng: np.random.Generator) -> _Speech:
    stimuli = _stimuli(config.speech_dir, config.duration_s, config.n_sentences, config.n_words, rng,
                       config.sentences_per_sound)
    drives, silence, features = generative.acoustic_drive([s.wave for s in stimuli], SPEECH_SFREQ_HZ,
                                                          n_mel_bands=config.n_mel_bands)
    vocabulary = sorted({word for s in stimuli for word, _, _ in s.words})
    tokens = [(np.array([int(round(onset * generative.MODEL_SFREQ_HZ)) for _, onset, _ in s.words]),
               np.array([vocabulary.index(word) for word, _, _ in s.words])) for s in stimuli]
    return _Speech(stimuli, drives, silence, features, vocabulary, tokens)


def _write_recordings(staging: Path, config: MegSimulationConfig, speech: _Speech, responses: dict[str, np.ndarray],
                      subject_seeds: list[np.random.SeedSequence]) -> _Written:
    """Simulate and write every recording, subject by subject, session by session."""
    info, sphere, origin = sensors.sensor_info(config.system, config.sfreq_hz, config.line_freq_hz)
    written = _Written(subjects=[f"{i + 1:02d}" for i in range(config.n_subjects)],
                       sessions=[str(i) for i in range(config.n_sessions)], ch_names=list(info["ch_names"]),
                       ch_type=sensors.SYSTEMS[config.system][1])
    for s, subject in enumerate(written.subjects):
        subject_rng = np.random.default_rng(subject_seeds[s])
        leadfields = sensors.subject_leadfields(info, sphere, origin, subject_rng,
                                                n_random_sources=config.n_random_sources,
                                                n_background=config.n_background,
                                                head_rotation_deg=config.head_rotation_deg,
                                                head_translation_m=config.head_translation_m)
        alpha_hz = float(subject_rng.uniform(9.0, 11.5))
        line_pattern = subject_rng.normal(1.0, 0.5, len(info["ch_names"]))
        trf = responses["trf"][s]
        kernels = responses["word_kernels"] * responses["word_gain"][s][None, :, None]
        covs, stds, scale = [], [], None
        for session in written.sessions:
            rng = np.random.default_rng(subject_rng.integers(2**63))
            schedule = generative.schedule_stimuli(speech.stimuli, config.duration_s, rng,
                                                   cycle=config.speech_dir is not None)
            timeline, frames, ids = generative.drive_timeline(schedule, speech.drives, speech.tokens, speech.silence,
                                                              config.duration_s)
            sources = generative.predict_sources(trf, kernels, timeline, frames, ids)
            bad = int(rng.integers(len(info["ch_names"])))
            data, signal_120, noise_power, design_snr = sensors.sensor_data(
                sources, leadfields, line_pattern, alpha_hz, rng, sfreq_hz=config.sfreq_hz,
                duration_s=config.duration_s, snr_db=config.snr_db, line_freq_hz=config.line_freq_hz,
                shares=(config.alpha_share, config.line_share, config.white_share), bad=bad)
            noise_cov, total_std = sensors.window_statistics(data, signal_120, config.sfreq_hz)
            # One scale per subject (set by its first session) brings the data to typical
            # amplitudes; the subject's one leadfield in the model carries the same scale.
            scale = scale if scale is not None else _DATA_SCALE[written.ch_type] / np.sqrt(noise_power)
            data *= scale
            covs.append(noise_cov * scale**2)
            stds.append(total_std * scale)
            written.snr_db[f"sub-{subject}_ses-{session}"] = design_snr
            written.bads.setdefault(subject, []).append(info["ch_names"][bad])
            written.paths.append(writer.write_recording(staging, info, data, subject, session, config.task,
                                                        written.ch_type, bad, schedule, speech.stimuli, s))
        written.leadfield.append(leadfields["signal"] * scale)
        written.noise_cov.append(np.mean(covs, axis=0))
        written.total_std.append(np.mean(stds, axis=0))
    return written


def _generative_model(config: MegSimulationConfig, speech: _Speech, responses: dict[str, np.ndarray],
                      written: _Written, parameters: dict[str, Any]) -> generative.GenerativeModel:
    """What the oracle needs: the stimuli's drive, every subject's responses, leadfield and noise."""
    tokens = speech.tokens
    return generative.GenerativeModel(
        acoustic=np.concatenate(speech.drives, axis=1),
        stimulus_offsets=np.cumsum([0] + [d.shape[1] for d in speech.drives]), silence=speech.silence,
        word_stimulus=np.concatenate([np.full(len(t[0]), i) for i, t in enumerate(tokens)]),
        word_frame=np.concatenate([t[0] for t in tokens]), word_id=np.concatenate([t[1] for t in tokens]),
        trf=responses["trf"].astype(np.float32), word_kernels=responses["word_kernels"].astype(np.float32),
        word_gain=responses["word_gain"].astype(np.float32), leadfield=np.stack(written.leadfield).astype(np.float32),
        noise_cov=np.stack(written.noise_cov), total_std=np.stack(written.total_std),
        meta={"subjects": written.subjects, "sessions": written.sessions, "task": config.task,
              "system": config.system, "ch_names": written.ch_names, "stimuli": [s.name for s in speech.stimuli],
              "sentences": [s.sentence for s in speech.stimuli], "vocabulary": speech.vocabulary,
              "features": speech.features, "sfreq_hz": generative.MODEL_SFREQ_HZ, "bads": written.bads,
              "parameters": parameters, "units": "T" if written.ch_type == "mag" else "V"},
    )


def _check_arguments(out_dir: Path, config: MegSimulationConfig, overwrite: bool) -> None:
    if config.system not in sensors.SYSTEMS:
        raise BioclError(f"unknown system {config.system!r}", hint=f"choose one of {sorted(sensors.SYSTEMS)}")
    if config.sfreq_hz < generative.MODEL_SFREQ_HZ:
        raise BioclError(f"sampling rate {config.sfreq_hz:g} Hz is below the generative model's "
                         f"{generative.MODEL_SFREQ_HZ:g} Hz", hint=f"simulate at {generative.MODEL_SFREQ_HZ:g} Hz or more")
    if config.line_freq_hz >= config.sfreq_hz / 2:
        raise BioclError(f"line frequency {config.line_freq_hz:g} Hz is at or above Nyquist at {config.sfreq_hz:g} Hz",
                         hint="simulate at a higher rate or set line_freq_hz")
    if config.alpha_share + config.line_share + config.white_share >= 1.0:
        raise BioclError("alpha, line and white noise shares leave nothing for the 1/f background",
                         hint="keep alpha_share + line_share + white_share below 1")
    complete = (out_dir / DERIVATIVES / "simulation.json").exists()
    if complete and not overwrite:
        raise BioclError("a simulated data set already exists here", path=out_dir,
                         hint="choose another folder or pass overwrite=True (--overwrite)")


def _stimuli(speech_dir: str | Path | None, duration_s: float, n_sentences: int | None, n_words: int,
             rng: np.random.Generator, sentences_per_sound: int = 1) -> list[Stimulus]:
    if speech_dir is not None:
        stimuli = stories(real_stimuli(speech_dir), sentences_per_sound)
        if generative.LEAD_S + stimuli[0].duration_s + generative.MAX_PAUSE_S > duration_s:
            raise BioclError(f"a recording of {duration_s:g} s is too short for one stimulus", path=speech_dir,
                             hint="simulate longer recordings")
        return stimuli
    # Procedural sentences last about 3.8 s; draw more than fit, then keep those that fit.
    stimuli = stories(synthetic_stimuli(n_sentences or int(duration_s / 4.0) + 4, rng, n_words=n_words),
                      sentences_per_sound)
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
