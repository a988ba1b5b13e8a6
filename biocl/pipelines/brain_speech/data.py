"""Data of the brain-to-speech pipeline: simulate or read, speech features, windows.

:func:`prepare_data` turns a protocol's ``data`` section into a :class:`BrainSpeechData`:

1. a simulated BIDS data set (``source: simulate``; written once per set of simulator
   arguments into the cache folder and reused) or the BIDS folder at ``bids_root``, read
   through the same reader (:func:`biocl.data.meg.bids.read_bids`);
2. speech features of every stimulus file (mel, envelope or wav2vec 2.0), cached on disk by
   content hash and standardised;
3. the windows of :mod:`biocl.data.meg.windows`: splits of >= 6 s sentence blocks,
   identical across subjects (:mod:`biocl.data.meg.splits`), robust scalers fitted on each
   recording's training windows (:mod:`biocl.data.meg.scaling`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biocl.utils.console import info
from biocl.data.meg.splits import SPLITS, block_splits, sentence_blocks
from biocl.data.meg.windows import (PreparedRecording, WindowConfig, WindowTable, batch_arrays, build_windows,
                                    fit_scalers, prepare_recording)
from biocl.pipelines.brain_speech.quality import recording_quality
from biocl.utils.errors import BioclError
from biocl.protocols.base import Protocol
from biocl.train.distributed import main_process_first

__all__ = ["BrainSpeechData", "window_config", "prepare_data", "speech_features", "feature_function"]


@dataclass
class BrainSpeechData:
    """Everything windowing produced: recordings, window tables, stimulus features."""

    recordings: list[PreparedRecording]
    tables: dict[str, WindowTable]
    sounds: list[Path]
    speech: list[np.ndarray]
    silence: np.ndarray
    config: WindowConfig
    subject_index: dict[str, int]
    heldout: list[str]
    splits: dict[str, str]
    exclusions: dict[str, int]
    provenance: dict[str, Any]
    feature_stats: dict[str, list[float]]
    simulation: Any = None
    counts: dict[str, int] = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)

    def rows(self, split: str, *, heldout: bool = False) -> np.ndarray:
        """Rows of ``split`` from training subjects (or from held-out subjects)."""
        table = self.tables[split]
        subjects = np.array([self.recordings[r].subject for r in table.recording], dtype=object)
        wanted = np.isin(subjects, self.heldout) if heldout else ~np.isin(subjects, self.heldout)
        return np.flatnonzero(wanted) if len(table) else np.zeros(0, np.int64)

    def batch(self, split: str, rows: np.ndarray) -> dict[str, torch.Tensor]:
        """Windows ``rows`` of ``split`` as tensors."""
        arrays = batch_arrays(self.recordings, self.tables[split], rows, self.speech, self.silence, self.config,
                              self.subject_index)
        return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in arrays.items()}


def window_config(data: Any) -> WindowConfig:
    """The :class:`WindowConfig` of a protocol's ``data`` section."""
    return WindowConfig(sfreq_hz=data.sfreq_hz, tmin_s=data.tmin_s, tmax_s=data.tmax_s,
                        baseline_s=None if data.baseline_s is None else tuple(data.baseline_s),
                        brain_shift_s=data.brain_shift_s, scaler=data.scaler,
                        quantile_range=tuple(data.quantile_range), clamp=data.clamp,
                        train_stride_s=data.train_stride_s, max_scaler_windows=data.max_scaler_windows,
                        drop_cross_split=data.drop_cross_split, split_fractions=tuple(data.split_fractions),
                        split_method=data.split_method, min_block_s=data.min_block_s)


def _simulate(protocol: Protocol, cache_dir: Path) -> tuple[Path, Any]:
    """Simulate the protocol's data set once; later runs with the same parameters reuse it."""
    from biocl.data.meg.simulate.dataset import load_simulation, simulate_meg_bids, simulation_parameters
    from biocl.utils.io import sha256_bytes

    sim = protocol.data.simulation
    if sim.speech_dir is not None:
        sim = sim.model_copy(update={"speech_dir": str(protocol.resolve_path(sim.speech_dir))})
    parameters = simulation_parameters(sim, protocol.seed)
    key = sha256_bytes(json.dumps(parameters, sort_keys=True, default=str).encode())[:16]
    root = cache_dir / "simulated-meg" / key
    if (root / "dataset_description.json").exists():
        try:
            return root, load_simulation(root)
        except BioclError:
            pass
    info(f"simulating MEG ({sim.n_subjects} subjects, {sim.system}) into {root}")
    dataset = simulate_meg_bids(root, sim, seed=protocol.seed)
    return root, dataset


def speech_features(sounds: list[Path], data: Any, cache_root: Path | None, *, protocol: Protocol | None = None,
                    stats: dict[str, list[float]] | None = None
                    ) -> tuple[list[np.ndarray], np.ndarray, dict[str, list[float]]]:
    """Standardised features of every stimulus file at the window rate, and of silence.

    Each file's raw features are cached under ``cache_root`` by the hash of the file and the
    feature parameters. A mean and standard deviation over all frames of all files
    standardise them: one pair for all dimensions (``global``, the paper's) or one pair per
    feature dimension (``per_feature``, which centres every mel band).

    Returns
    -------
    features : list of arrays (F, T_file)
    silence : array (F,)
        The standardised features of silent audio, used outside a file.
    stats : dict
        ``mean`` and ``std`` per feature dimension (stored with the checkpoint for prediction).
        When given as an argument they are applied instead of fitted (a trained decoder's).
    """
    from biocl.data.speech.cache import FeatureCache
    from biocl.data.speech.reading import read_speech
    from biocl.utils.console import progress
    from biocl.utils.io import sha256_file

    params = _feature_params(data, protocol)
    compute_one = feature_function(data, protocol)
    cache = FeatureCache(cache_root) if cache_root is not None else None
    raw = []
    for sound in progress(sounds, total=len(sounds), description="extracting speech features", unit="file"):
        def compute(sound: Path = sound) -> np.ndarray:
            return compute_one(read_speech(sound, sfreq_hz=data.audio_sfreq_hz))
        key = {"name": "brain_speech.speech_features", "version": 1, "file_sha256": sha256_file(sound), **params}
        raw.append(cache.get_or_compute(key, compute) if cache is not None else compute())
    frames = np.concatenate(raw, axis=1).astype(np.float64)
    if stats is not None:
        mean, std = np.asarray(stats["mean"], np.float64), np.asarray(stats["std"], np.float64)
    elif data.standardise == "global":
        mean = np.full(frames.shape[0], frames.mean())
        std = np.full(frames.shape[0], frames.std())
    else:
        mean, std = frames.mean(axis=1), frames.std(axis=1)
    std[std <= 1e-12] = 1.0
    silence = compute_one(torch.zeros(data.audio_sfreq_hz)).astype(np.float64).mean(axis=1)
    features = [((f - mean[:, None]) / std[:, None]).astype(np.float32) for f in raw]
    return features, ((silence - mean) / std).astype(np.float32), {"mean": mean.tolist(), "std": std.tolist()}


def _feature_params(data: Any, protocol: Protocol | None) -> dict[str, Any]:
    params: dict[str, Any] = {"features": data.features, "audio_sfreq_hz": data.audio_sfreq_hz,
                              "out_sfreq_hz": data.sfreq_hz}
    if data.features == "mel":
        params.update(n_mels=data.n_mels, n_fft=data.n_fft)
    elif data.features == "wav2vec":
        path = protocol.resolve_path(data.wav2vec_checkpoint) if protocol else Path(data.wav2vec_checkpoint)
        params.update(checkpoint=str(path), layers=list(data.wav2vec_layers))
    return params


def feature_function(data: Any, protocol: Protocol | None):
    from biocl.data.speech.features import envelope_features, mel_features, wav2vec_features

    sr, out = data.audio_sfreq_hz, data.sfreq_hz
    if data.features == "mel":
        return lambda wave: mel_features(wave, sr, n_mels=data.n_mels, n_fft=data.n_fft, out_sfreq_hz=out)
    if data.features == "envelope":
        return lambda wave: envelope_features(wave, sr, out_sfreq_hz=out)
    checkpoint = protocol.resolve_path(data.wav2vec_checkpoint) if protocol else Path(data.wav2vec_checkpoint)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return lambda wave: wav2vec_features(wave, sr, checkpoint, layers=tuple(data.wav2vec_layers),
                                                out_sfreq_hz=out, device=device)


def prepare_data(protocol: Protocol, cache_dir: Path) -> BrainSpeechData:
    """Read (or simulate) the recordings and lay out every window of the protocol."""
    from biocl.data.meg.bids import read_bids

    data = protocol.data
    if data.features == "wav2vec" and not data.wav2vec_checkpoint:
        raise BioclError("data.features is 'wav2vec' but no data.wav2vec_checkpoint is given", path=protocol.source_path,
                         hint="add --set data.wav2vec_checkpoint=/path/to/a/local/wav2vec2/folder")
    simulation = None
    if data.source == "simulate":
        with main_process_first():  # under torchrun, rank 0 fills the cache and the others read it
            root, simulation = _simulate(protocol, cache_dir)
        provenance = {"simulated": True, "description": simulation.description, "sha256": simulation.sha256,
                      "source": f"biocl.data.meg.simulate.dataset (seed {protocol.seed}) at {root}",
                      "licence": "generated by biocl (BSD-3-Clause)"}
    else:
        if not data.bids_root:
            raise BioclError("data.source is 'bids' but no data.bids_root is given", path=protocol.source_path,
                             hint="add --set data.bids_root=/path/to/bids")
        root = protocol.resolve_path(data.bids_root)
        if not root.is_dir():
            raise BioclError("the BIDS folder does not exist", path=root, hint="set data.bids_root")
        provenance = {"simulated": False, "description": f"BIDS data set at {root}", "sha256": None,
                      "source": str(root), "licence": "see the data set's dataset_description.json"}
    recordings = read_bids(root, subjects=data.subjects, sessions=data.sessions, tasks=data.tasks,
                           datatype=data.datatype, montage=data.montage, min_sfreq_hz=data.sfreq_hz)
    if not recordings:
        raise BioclError("no MEG/EEG recording found", path=root, hint="check data.subjects/sessions/tasks")
    config = window_config(data)
    prepared = [prepare_recording(rec, config) for rec in recordings]
    n_events = sum(len(rec.events) for rec in prepared)
    blocks = sentence_blocks([e for rec in prepared for e in rec.events], config.min_block_s)
    splits = block_splits(blocks, config.split_fractions, config.split_method)
    sounds = sorted({Path(e.sound_file) for rec in prepared for e in rec.events if e.sound_file is not None})
    if not sounds:
        raise BioclError("no word event names a stimulus audio file", path=root,
                         hint="events.tsv needs a sound column (or MEG-MASC 'sound' keys)")
    speech, silence, stats = speech_features(sounds, data, cache_dir / "features" if data.cache else None,
                                             protocol=protocol)
    lengths = {sound: f.shape[1] for sound, f in zip(sounds, speech, strict=True)}
    tables, sounds, exclusions = build_windows(prepared, lengths, splits, config)
    unfit = fit_scalers(prepared, tables["train"], config)
    if unfit:
        exclusions["recordings without training windows (no scaler)"] = len(unfit)
        for split in SPLITS:
            tables[split] = tables[split].subset(~np.isin(tables[split].recording, unfit))
    # Measured before training, on the recordings as read and as preprocessed (bounded cost).
    quality = recording_quality(recordings, prepared, config,
                                [tables["train"].brain_start[tables["train"].recording == r]
                                 for r in range(len(prepared))])
    subjects = sorted({rec.subject for rec in prepared})
    heldout = [str(s) for s in data.heldout_subjects]
    missing = [s for s in heldout if s not in subjects]
    if missing:
        raise BioclError(f"held-out subjects {missing} are not in the data set (subjects: {subjects})",
                         path=protocol.source_path, hint="fix data.heldout_subjects")
    if heldout and not protocol.model.unseen_subject:
        raise BioclError("held-out subjects need the shared subject layer", path=protocol.source_path,
                         hint="set model.unseen_subject: true")
    training_subjects = [s for s in subjects if s not in heldout]
    if not training_subjects:
        raise BioclError("every subject is held out: nothing to train on", path=protocol.source_path)
    out = BrainSpeechData(recordings=prepared, tables=tables, sounds=sounds, speech=speech, silence=silence,
                          config=config, subject_index={s: i for i, s in enumerate(training_subjects)},
                          heldout=heldout, splits=splits, exclusions=exclusions, provenance=provenance,
                          feature_stats=stats, simulation=simulation, blocks=blocks,
                          quality=quality)
    out.counts = {"subjects": len(subjects), "recordings": len(prepared), "word events": n_events,
                  "sentences": len(set(splits)), "sentence blocks": len(set(blocks.values())),
                  "stimulus files": len(sounds)}
    for split in SPLITS:
        if out.rows(split).size == 0:
            raise BioclError(f"no {split} windows: the data set is too small for the splits", path=root,
                             hint="simulate longer recordings or change data.split_fractions")
    return out
