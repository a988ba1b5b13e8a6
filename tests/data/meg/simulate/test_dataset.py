"""The simulated BIDS data set: read back by the real reader, its SNR, its oracle, bad arguments."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from biocl.data.meg.simulate import generative
from biocl.data.meg.bids import read_bids
from biocl.data.meg.simulate.dataset import (
    DERIVATIVES,
    load_model,
    load_simulation,
    oracle_scores,
    simulate_meg_bids,
    simulation_parameters,
)
from biocl.protocols.brain_speech import MegSimulationConfig
from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_files

TINY = MegSimulationConfig(n_subjects=2, duration_s=24.0, sfreq_hz=360.0, n_background=12)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory):
    return simulate_meg_bids(tmp_path_factory.mktemp("sim") / "kit", TINY.model_copy(update={"snr_db": -5.0}), seed=3)


def _events_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_simulated_meg_is_read_back_by_read_bids(kit) -> None:
    recordings = read_bids(kit.root)
    assert [r.subject for r in recordings] == ["01", "02"] and kit.subjects == ["01", "02"]
    model = load_model(kit)
    for recording, path in zip(recordings, kit.recordings, strict=True):
        assert recording.path == path and recording.sfreq_hz == 360.0
        assert recording.raw.get_channel_types(unique=True) == ["mag"] and len(recording.ch_names) == 157
        assert recording.raw.n_times == int(24.0 * 360)
        # One bad channel per recording, marked in the file and in channels.tsv, masked.
        assert recording.raw.info["bads"] == model.meta["bads"][recording.subject]
        assert recording.position_mask.sum() == 156
        rows = _events_rows(path.parent / path.name.replace("_meg.fif", "_events.tsv"))
        assert len(recording.events) == len(rows) > 10
        event = recording.events[0]
        assert event.sound_file.parent == kit.root / "stimuli" and event.sound_file.exists()
        assert event.sentence_id and event.word in model.meta["vocabulary"]
    # Every subject hears the same sentences, in its own order.
    sentences = [sorted({e.sentence_id for e in r.events}) for r in recordings]
    assert sentences[0] == sentences[1]
    orders = [[e.sentence_id for e in r.events if e.word_index == 0] for r in recordings]
    assert orders[0] != orders[1]
    assert "SIMULATED" in kit.description


def test_provenance_hash_and_reload(kit) -> None:
    files = [p for p in kit.root.rglob("*") if p.is_file() and p.name != "simulation.json"]
    assert sha256_files(files, root=kit.root) == kit.sha256
    again = load_simulation(kit.root)
    assert again.sha256 == kit.sha256 and again.model_path == kit.root / DERIVATIVES / "model.npz"
    with pytest.raises(BioclError, match="simulation.json missing"):
        load_simulation(kit.root.parent)


def test_design_snr_holds_in_the_written_data(kit) -> None:
    """Data minus the model's noiseless response, at 120 Hz, has the requested SNR."""
    model = load_model(kit)
    recording = read_bids(kit.root, subjects="01")[0]
    stimuli = model.meta["stimuli"]
    starts = sorted({(e.sound_file.name, round(e.onset_s - e.sound_onset_s, 4)) for e in recording.events})
    schedule = [(stimuli.index(name), onset) for name, onset in starts]
    drives = [model.stimulus_acoustic(i) for i in range(len(stimuli))]
    tokens = [(model.word_frame[model.word_stimulus == i], model.word_id[model.word_stimulus == i])
              for i in range(len(stimuli))]
    timeline, frames, ids = generative.drive_timeline(schedule, drives, tokens, model.silence, 24.0)
    kernels = model.word_kernels * model.word_gain[0][None, :, None]
    signal = model.leadfield[0] @ generative.predict_sources(model.trf[0], kernels, timeline, frames, ids)
    data = resample_poly(recording.raw.get_data(), 1, 3, axis=1)
    n = min(data.shape[1], signal.shape[1]) - 60
    good = recording.position_mask
    residual = data[good, 60:n] - signal[good, 60:n]
    snr = 10 * np.log10(signal[good, 60:n].var(axis=1).mean() / residual.var(axis=1).mean())
    assert snr == pytest.approx(-5.0, abs=1.5)


def _word_windows(kit, subject: str, n_times: int = 361):
    recording = read_bids(kit.root, subjects=subject)[0]
    data = resample_poly(recording.raw.get_data(), 1, 3, axis=1)
    events = [e for e in recording.events if (e.onset_s + 2.7) * 120 < data.shape[1] and e.onset_s > 0.6]
    starts = [int(round((e.onset_s - 0.5 + 0.15) * 120)) for e in events]
    brain = np.stack([data[:, a:a + n_times] for a in starts])
    brain -= brain[:, :, :60].mean(axis=2, keepdims=True)
    candidates = sorted({(e.sound_file.name, e.sound_onset_s - 0.5) for e in events})
    truth = np.array([candidates.index((e.sound_file.name, e.sound_onset_s - 0.5)) for e in events])
    return brain, candidates, truth


def test_oracle_identifies_the_heard_segment(kit) -> None:
    brain, candidates, truth = _word_windows(kit, "02")
    scores = oracle_scores(kit, "02", brain, candidates)
    assert scores.shape == (len(brain), len(candidates))
    top1 = np.mean(scores.argmax(axis=1) == truth)
    assert top1 > 0.9
    # Per-channel scaling and offsets (a robust scaler, a baseline) do not change the scores.
    gains = np.random.default_rng(0).uniform(0.5, 2.0, size=(1, brain.shape[1], 1))
    rescaled = oracle_scores(kit.model_path, "02", (brain + 5 * brain.std()) * gains, candidates)
    np.testing.assert_allclose(rescaled, scores, rtol=1e-6, atol=1e-9)
    with pytest.raises(BioclError, match="not in the simulation"):
        oracle_scores(kit, "09", brain, candidates)


def test_eeg_simulation_uses_the_bids_like_fallback(tmp_path: Path) -> None:
    dataset = simulate_meg_bids(tmp_path / "eeg", MegSimulationConfig(system="EEG-64", n_subjects=1, duration_s=15.0,
                                                                      sfreq_hz=256.0, n_background=8))
    recording = read_bids(dataset.root)[0]
    assert dataset.recordings[0].name == "sub-01_ses-0_task-listen_eeg.fif"
    assert recording.raw.get_channel_types(unique=True) == ["eeg"] and len(recording.ch_names) == 64
    assert len(recording.raw.info["bads"]) == 1 and recording.position_mask.sum() == 63
    assert recording.events


@pytest.mark.realdata
def test_real_speech_stimuli(shared_data: Path, tmp_path: Path) -> None:
    config = MegSimulationConfig(speech_dir=str(shared_data / "speech" / "librivox"), n_subjects=1, duration_s=40.0,
                                 sfreq_hz=300.0, n_background=8, system="CTF-275")
    dataset = simulate_meg_bids(tmp_path / "libri", config)
    recording = read_bids(dataset.root)[0]
    assert len(recording.ch_names) == 275
    names = {e.sound_file.name for e in recording.events}
    assert names <= {p.name for p in (shared_data / "speech" / "librivox").glob("*.wav")}
    sentence = next(e.sentence for e in recording.events if e.sound_file.name.endswith("0880.wav"))
    assert sentence == "he was not an ill disposed young man"
    # Five utterances (~25 s) are cycled to fill 40 s: some are heard twice.
    assert len([e for e in recording.events if e.word_index == 0]) > 5


def test_bad_arguments(tmp_path: Path, kit) -> None:
    with pytest.raises(BioclError, match="unknown system"):
        simulate_meg_bids(tmp_path / "x", MegSimulationConfig(system="Vectorview"))
    with pytest.raises(BioclError, match="below the generative model's 120 Hz"):
        simulate_meg_bids(tmp_path / "x", MegSimulationConfig(sfreq_hz=100.0))
    with pytest.raises(BioclError, match="already exists"):
        simulate_meg_bids(kit.root, TINY, seed=3)
    with pytest.raises(BioclError, match="too short"):
        simulate_meg_bids(tmp_path / "x", MegSimulationConfig(duration_s=3.0))


def test_same_seed_same_files_and_every_session_is_written(tmp_path: Path) -> None:
    config = MegSimulationConfig(n_subjects=1, n_sessions=2, duration_s=12.0, sfreq_hz=300.0, n_background=4)
    first = simulate_meg_bids(tmp_path / "a", config, seed=5)
    second = simulate_meg_bids(tmp_path / "b", config, seed=5)
    assert first.sha256 == second.sha256
    assert simulate_meg_bids(tmp_path / "c", config, seed=6).sha256 != first.sha256
    recordings = read_bids(first.root)
    assert [(r.subject, r.session) for r in recordings] == [("01", "0"), ("01", "1")]
    assert all(len(r.raw.info["bads"]) == 1 for r in recordings)


def test_the_record_holds_every_parameter_and_rebuilds_the_config(kit) -> None:
    config = TINY.model_copy(update={"snr_db": -5.0})
    assert kit.parameters == simulation_parameters(config, 3) == load_model(kit).meta["parameters"]
    # Every field but sentences_per_sound at its default of 1 (left out so that files of the
    # one-sentence-per-file layout stay byte-identical); the config still rebuilds.
    assert set(kit.parameters) == set(MegSimulationConfig.model_fields) - {"sentences_per_sound"} | {"seed"}
    assert MegSimulationConfig(**{k: v for k, v in kit.parameters.items() if k != "seed"}) == config


def test_story_length_stimuli_hold_several_sentences(tmp_path: Path) -> None:
    config = TINY.model_copy(update={"duration_s": 40.0, "n_subjects": 1, "sentences_per_sound": 3})
    dataset = simulate_meg_bids(tmp_path / "story", config, seed=3)
    [recording] = read_bids(dataset.root)
    by_file: dict[str, list] = {}
    for event in recording.events:
        by_file.setdefault(event.sound_file.name, []).append(event)
    assert sorted(by_file) and all(name.startswith("story_") for name in by_file)
    for events in by_file.values():
        events.sort(key=lambda e: e.sound_onset_s)
        sentences = list(dict.fromkeys(e.sentence_id for e in events))
        assert len(sentences) >= 2  # MEG-MASC style: several sentences in one sound file
        for sentence in sentences:  # word_index counts within each sentence
            assert [e.word_index for e in events if e.sentence_id == sentence] == list(
                range(sum(e.sentence_id == sentence for e in events)))
        # Onsets in the file and in the recording differ by one play offset.
        offsets = {round(e.onset_s - e.sound_onset_s, 3) for e in events}
        assert len(offsets) == 1
    assert dataset.parameters["sentences_per_sound"] == 3
    # The default layout (one sentence per file) keeps its parameters, hence its files, as before.
    assert "sentences_per_sound" not in simulation_parameters(TINY, 3)
