"""Writing the simulated data set: stimuli, BIDS recordings and sidecars, the generative model.

Used by :func:`biocl.data.meg.simulate.dataset.simulate_meg_bids`; see that module for the layout.
"""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from biocl.data.meg.simulate import generative
from biocl.data.speech.simulate import SPEECH_SFREQ_HZ, Stimulus
from biocl.utils.io import atomic_path, write_json, write_text

__all__ = ["DERIVATIVES", "write_stimuli", "write_recording", "write_events", "describe", "write_dataset_files",
           "save_model", "read_model"]

#: Where the generative model is stored, relative to the data set root.
DERIVATIVES = Path("derivatives") / "biocl-simulation"


def write_stimuli(root: Path, stimuli: list[Stimulus]) -> None:
    """Write every stimulus as 16-bit PCM WAV at 16 kHz under ``root/stimuli/``."""
    import soundfile

    folder = root / "stimuli"
    folder.mkdir(parents=True, exist_ok=True)
    for stimulus in stimuli:
        with atomic_path(folder / stimulus.name) as tmp:
            soundfile.write(str(tmp), stimulus.wave, SPEECH_SFREQ_HZ, subtype="PCM_16", format="WAV")


def write_recording(root: Path, info: Any, data: np.ndarray, subject: str, session: str, task: str, ch_type: str,
                    bad: int, schedule: list[tuple[int, float]], stimuli: list[Stimulus], subject_index: int) -> Path:
    """Write one recording with its sidecars and events; return the raw file's path.

    Parameters
    ----------
    root : Path
        Data set root.
    info : mne.Info
        The simulated system's measurement info.
    data : np.ndarray
        ``(n_channels, n_samples)`` float32 in T (MEG) or V (EEG).
    subject, session, task : str
        BIDS labels.
    ch_type : {"mag", "eeg"}
        MEG goes through ``mne_bids.write_raw_bids`` (FIF); EEG is saved as FIF in the
        same layout (BIDS-like) with a hand-written ``channels.tsv`` and ``eeg.json``.
    bad : int
        Index of the bad channel, marked in the file and in ``channels.tsv``.
    schedule : list of (int, float)
        Stimulus index and onset (s) of every sentence heard.
    stimuli : list of Stimulus
        All stimuli.
    subject_index : int
        Offsets the (fixed, fictitious) measurement date, one day per subject.
    """
    import mne

    raw = mne.io.RawArray(data, info.copy(), verbose="error")
    # The samples were drawn in float32; single precision halves the files (write_raw_bids
    # saves in the raw's original format).
    raw.orig_format = "single"
    raw.info["bads"] = [info["ch_names"][bad]]
    raw.set_meas_date(datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
                      + datetime.timedelta(days=subject_index))
    datatype = "meg" if ch_type == "mag" else "eeg"
    folder = root / f"sub-{subject}" / f"ses-{session}" / datatype
    stem = f"sub-{subject}_ses-{session}_task-{task}"
    if datatype == "meg":
        from mne_bids import BIDSPath, write_raw_bids

        bids_path = BIDSPath(subject=subject, session=session, task=task, datatype="meg", root=root)
        write_raw_bids(raw, bids_path, format="FIF", allow_preload=True, overwrite=True, verbose="error")
        path = bids_path.fpath
    else:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{stem}_eeg.fif"
        raw.save(path, fmt="single", overwrite=True, verbose="error")
        rows = ["name\ttype\tunits\tsampling_frequency\tstatus"]
        rows += [f"{name}\tEEG\tV\t{info['sfreq']:g}\t{'bad' if i == bad else 'good'}"
                 for i, name in enumerate(info["ch_names"])]
        write_text(folder / f"{stem}_channels.tsv", "\n".join(rows) + "\n")
        write_json(folder / f"{stem}_eeg.json", {"TaskName": task, "SamplingFrequency": info["sfreq"],
                                                  "PowerLineFrequency": info["line_freq"], "EEGReference": "average",
                                                  "Manufacturer": "biocl simulator"})
    write_events(folder / f"{stem}_events.tsv", schedule, stimuli, info["sfreq"])
    return Path(path)


def write_events(path: Path, schedule: list[tuple[int, float]], stimuli: list[Stimulus], sfreq_hz: float) -> None:
    """One ``events.tsv`` row per word heard (plain columns, see :mod:`biocl.data.meg.bids`) and its JSON sidecar."""
    lines = ["onset\tduration\ttrial_type\tword\tsentence\tword_index\tsound\tsound_onset\tsample"]
    for index, onset in schedule:
        stimulus = stimuli[index]
        positions: dict[str, int] = {}
        for i, (word, word_onset, word_duration) in enumerate(stimulus.words):
            # A story file holds several sentences: the position counts within the word's own.
            sentence = stimulus.sentence_of(i)
            position = positions[sentence] = positions.get(sentence, -1) + 1
            at = onset + word_onset
            lines.append(f"{at:.4f}\t{word_duration:.4f}\tword\t{word}\t{sentence}\t{position}\t"
                         f"stimuli/{stimulus.name}\t{word_onset:.4f}\t{int(round(at * sfreq_hz))}")
    write_text(path, "\n".join(lines) + "\n")
    write_json(path.with_suffix(".json"), {
        "word": {"Description": "the word heard"},
        "sentence": {"Description": "the sentence the word belongs to (its text)"},
        "word_index": {"Description": "position of the word in its sentence, from 0"},
        "sound": {"Description": "stimulus file, relative to the data set root"},
        "sound_onset": {"Description": "onset of the word inside the stimulus file", "Units": "s"},
    })


def describe(system: str, n_subjects: int, n_sessions: int, duration_s: float, sfreq_hz: float, snr_db: float,
             stimuli: list[Stimulus], speech_dir: Any, n_sources: int, n_background: int,
             features: list[str], n_words: int) -> str:
    """The data set's one-paragraph description, which says first that it is simulated."""
    speech = (f"{len(stimuli)} real read-speech utterances from {speech_dir}" if speech_dir is not None
              else f"{len(stimuli)} procedurally generated speech-like sentences over a {n_words}-word vocabulary")
    return (f"SIMULATED data, not real brain recordings: {system} {'EEG' if system.startswith('EEG') else 'MEG'}, "
            f"{n_subjects} subjects x {n_sessions} session(s) x {duration_s:g} s at {sfreq_hz:g} Hz, listening to "
            f"{speech}. Brain responses: subject-specific temporal response functions (0-400 ms) to "
            f"{len(features)} acoustic features (envelope, {len(features) - 2} log-mel bands, peak rate) and "
            f"word-specific evoked responses (0-600 ms) on {n_sources} dipoles (bilateral auditory and temporal "
            f"cortex + random), projected through a spherical forward model with per-subject head position. "
            f"Noise: 1/f background from {n_background} dipoles, ~10 Hz alpha bursts, line noise, white sensor "
            f"noise, one bad channel per recording. Single-channel SNR below 60 Hz: {snr_db:g} dB.")


def write_dataset_files(root: Path, description: str, seed: int) -> None:
    """``dataset_description.json`` and ``README`` of the data set and of its derivative folder."""
    write_json(root / "dataset_description.json", {
        "Name": "biocl simulated M/EEG speech listening", "BIDSVersion": "1.9.0", "DatasetType": "raw",
        "License": "CC0", "Authors": ["biocl simulator"], "HowToAcknowledge": "Simulated with biocl",
        "GeneratedBy": [{"Name": "biocl.data.meg.simulate.dataset", "Description": f"seed {seed}"}],
    })
    write_text(root / "README", description + "\n")
    write_json(root / DERIVATIVES / "dataset_description.json", {
        "Name": "biocl simulation: generative model", "BIDSVersion": "1.9.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "biocl.data.meg.simulate.dataset"}],
    })


def save_model(folder: Path, model: generative.GenerativeModel) -> None:
    """Write ``model.npz`` (arrays, atomically) and ``model.json`` (metadata) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / "model.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{name: getattr(model, name) for name in model.ARRAYS})
    write_json(folder / "model.json", model.meta)


@functools.lru_cache(maxsize=4)
def read_model(path: str, mtime_ns: int) -> generative.GenerativeModel:
    """Read a saved model; cached by path and modification time, so the oracle reads it once."""
    with np.load(path, allow_pickle=False) as arrays:
        values = {name: arrays[name] for name in generative.GenerativeModel.ARRAYS}
    meta = json.loads(Path(path).with_name("model.json").read_text(encoding="utf-8"))
    return generative.GenerativeModel(**values, meta=meta)
