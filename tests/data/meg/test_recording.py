"""Reading M/EEG recordings: every shared real file, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest

from biocl.data.meg.recording import read_recording, read_trigger_file, sensor_positions, sentence_id
from biocl.utils.errors import BioclError

# (file, montage for EEG files that store no positions, channel type, n channels, Hz, triggers, annotations)
REAL_RAW_FILES = [
    ("mne/test_ctf_comp_raw.fif", None, "mag", 274, 480.0, 0, 0),
    ("mne/test.sqd", None, "mag", 157, 1000.0, 2, 0),
    ("mne/exported4D_linux_raw.fif", None, "mag", 248, 1017.25, 15, 0),
    ("mne/test.edf", "biosemi128", "eeg", 138, 512.0, 13, 5),
    ("mne/test.bdf", "biosemi64", "eeg", 72, 2048.0, 1, 0),
    ("brainvision/test.vhdr", "colin27_1005", "eeg", 26, 1000.0, 0, 13),
]


def _check_positions(positions: np.ndarray, mask: np.ndarray, n_channels: int) -> None:
    assert positions.shape == (n_channels, 2) and positions.dtype == np.float32
    assert np.isfinite(positions).all()
    assert positions.min() >= 0.0 and positions.max() <= 1.0
    assert mask.dtype == bool and mask.sum() >= 3
    # Both axes are scaled to [0, 1] over the positioned channels.
    np.testing.assert_allclose(positions[mask].min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(positions[mask].max(axis=0), 1.0, atol=1e-6)


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "montage", "ch_type", "n_channels", "sfreq_hz", "n_triggers", "n_annotations"),
                         REAL_RAW_FILES)
def test_every_shared_raw_file_loads(shared_data: Path, name, montage, ch_type, n_channels, sfreq_hz,
                                     n_triggers, n_annotations) -> None:
    recording = read_recording(shared_data / "meg_eeg" / name, montage=montage)
    assert recording.raw.get_channel_types(unique=True) == [ch_type]
    assert len(recording.ch_names) == n_channels
    assert recording.sfreq_hz == pytest.approx(sfreq_hz)
    assert len(recording.triggers) == n_triggers
    assert len(recording.raw.annotations) == n_annotations
    _check_positions(recording.positions, recording.position_mask, n_channels)
    if montage is None:
        # MEG files carry every sensor's location.
        assert recording.position_mask.all()


@pytest.mark.realdata
def test_kit_triggers_match_its_events_file(shared_data: Path) -> None:
    recording = read_recording(shared_data / "meg_eeg" / "mne" / "test.sqd")
    expected = read_trigger_file(shared_data / "meg_eeg" / "mne" / "test-eve.txt")
    # The reference file was made with another trigger-channel decoding (stim='123456789',
    # slope '+'); MNE's default synthetic channel finds the same two triggers 2 ms later.
    assert len(recording.triggers) == len(expected) == 2
    np.testing.assert_allclose(recording.triggers[:, 0], expected[:, 0], atol=3)


@pytest.mark.realdata
def test_fif_events_file_has_63_events(shared_data: Path) -> None:
    events = read_trigger_file(shared_data / "meg_eeg" / "mne" / "test_raw-eve.fif")
    assert events.shape == (63, 3)


@pytest.mark.realdata
def test_evoked_file_positions(shared_data: Path) -> None:
    evokeds = mne.read_evokeds(shared_data / "meg_eeg" / "mne" / "test-ave.fif.gz", verbose="error")
    assert len(evokeds) == 4
    info = evokeds[0].info
    positions, mask = sensor_positions(info)
    types = np.array(evokeds[0].get_channel_types())
    # Every MEG sensor and EEG electrode has a place; stimulus and EOG channels have none.
    assert mask.sum() == np.isin(types, ["grad", "mag", "eeg"]).sum() == 366
    assert not mask[np.isin(types, ["stim", "eog"])].any()
    assert np.all(positions[~mask] == 0)
    _check_positions(positions, mask, len(types))


def _tiny_raw(sfreq_hz: float = 300.0, n_seconds: float = 2.0, montage: bool = True) -> mne.io.RawArray:
    names = ["Fz", "Cz", "Pz", "Oz", "C3", "C4"]
    info = mne.create_info(names, sfreq_hz, "eeg")
    data = np.random.default_rng(0).normal(scale=1e-5, size=(len(names), int(sfreq_hz * n_seconds)))
    raw = mne.io.RawArray(data, info, verbose="error")
    if montage:
        raw.set_montage("biosemi64", match_case=False, on_missing="ignore", verbose="error")
    return raw


def test_synthetic_fif_round_trip_and_bad_channel_mask(tmp_path: Path) -> None:
    raw = _tiny_raw()
    raw.info["bads"] = ["Cz"]
    path = tmp_path / "ok_raw.fif"
    raw.save(path, verbose="error")
    recording = read_recording(path, subject="07", session="1", task="listen")
    assert (recording.subject, recording.session, recording.task) == ("07", "1", "listen")
    assert recording.raw.info["bads"] == ["Cz"]
    assert recording.position_mask.tolist() == [True, False, True, True, True, True]
    # Fz is in front of Pz: projected y grows towards the nose.
    fz, pz = recording.positions[0], recording.positions[2]
    assert fz[1] > pz[1]


def test_truncated_fif_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "full_raw.fif"
    _tiny_raw(n_seconds=10.0).save(path, verbose="error")
    truncated = tmp_path / "truncated_raw.fif"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BioclError) as info:
        read_recording(truncated)
    assert str(truncated) in str(info.value) and "\n" not in str(info.value)


def test_nan_data_is_an_error(tmp_path: Path) -> None:
    raw = _tiny_raw()
    raw._data[2, 100:110] = np.nan
    path = tmp_path / "nan_raw.fif"
    raw.save(path, verbose="error")
    with pytest.raises(BioclError, match="NaN") as info:
        read_recording(path)
    assert str(path) in str(info.value) and "Pz" in str(info.value)


def test_low_sampling_rate_is_an_error_only_below_the_working_rate(tmp_path: Path) -> None:
    path = tmp_path / "slow_raw.fif"
    _tiny_raw(sfreq_hz=100.0).save(path, verbose="error")
    with pytest.raises(BioclError, match="100 Hz is below the decoder's configured rate data.sfreq_hz = 120 Hz") as info:
        read_recording(path, min_sfreq_hz=120.0)
    assert str(path) in str(info.value)
    eeg_128 = tmp_path / "eeg128_raw.fif"
    _tiny_raw(sfreq_hz=128.0).save(eeg_128, verbose="error")
    assert read_recording(eeg_128, min_sfreq_hz=120.0).sfreq_hz == 128.0


def test_no_positions_is_an_error_unless_a_montage_is_given(tmp_path: Path) -> None:
    path = tmp_path / "nopos_raw.fif"
    _tiny_raw(montage=False).save(path, verbose="error")
    with pytest.raises(BioclError, match="no sensor positions") as info:
        read_recording(path)
    assert str(path) in str(info.value)
    recording = read_recording(path, montage="biosemi64")
    assert recording.position_mask.all()


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="no such recording"):
        read_recording(tmp_path / "absent_raw.fif")
    garbage = tmp_path / "garbage_raw.fif"
    garbage.write_bytes(b"not a fif file at all" * 10)
    with pytest.raises(BioclError, match="cannot read"):
        read_recording(garbage)


def test_sentence_id_ignores_case_and_spacing() -> None:
    assert sentence_id("The cat  sat") == sentence_id("the cat sat")
    assert sentence_id("the cat sat") != sentence_id("the cat sang")
    assert len(sentence_id("x")) == 16
