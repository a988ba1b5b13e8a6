"""BIDS reading: both events.tsv styles, BIDS-like fallback, and errors naming the file."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest
import soundfile

from biocl.data.meg.bids import parse_events_tsv, read_bids
from biocl.data.meg.recording import sentence_id
from biocl.utils.errors import BioclError


def _write_tsv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(header)] + ["\t".join(str(value) for value in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_wav(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)
    return path


PLAIN_HEADER = ["onset", "duration", "trial_type", "word", "sentence", "word_index", "sound", "sound_onset"]


def _bids_like_eeg(root: Path, subject: str = "01", *, with_events: bool = True, sound: str = "stimuli/s1.wav") -> Path:
    """An EEG recording saved as FIF (valid only as a BIDS-like layout), one bad channel in channels.tsv."""
    folder = root / f"sub-{subject}" / "ses-0" / "eeg"
    folder.mkdir(parents=True)
    stem = f"sub-{subject}_ses-0_task-listen"
    names = ["Fz", "Cz", "Pz", "Oz", "C3", "C4"]
    raw = mne.io.RawArray(np.random.default_rng(1).normal(scale=1e-5, size=(6, 1500)),
                          mne.create_info(names, 300.0, "eeg"), verbose="error")
    raw.set_montage("biosemi64", on_missing="ignore", verbose="error")
    raw.save(folder / f"{stem}_eeg.fif", verbose="error")
    _write_tsv(folder / f"{stem}_channels.tsv", ["name", "type", "units", "status"],
               [[name, "EEG", "V", "bad" if name == "Oz" else "good"] for name in names])
    if with_events:
        _write_tsv(folder / f"{stem}_events.tsv", PLAIN_HEADER, [
            [1.0, 0.3, "word", "the", "the cat sat", 0, sound, 0.1],
            [1.4, 0.3, "word", "cat", "the cat sat", 1, sound, 0.5],
            [1.8, 0.3, "word", "sat", "the cat sat", 2, sound, 0.9],
        ])
    _write_wav(root / "stimuli" / "s1.wav")
    return root


def test_bids_like_fif_eeg_is_read_through_the_fallback(tmp_path: Path) -> None:
    root = _bids_like_eeg(tmp_path / "ds")
    _bids_like_eeg(tmp_path / "ds", subject="02")
    recordings = read_bids(root)
    assert [r.subject for r in recordings] == ["01", "02"]
    recording = recordings[0]
    assert (recording.session, recording.task, recording.sfreq_hz) == ("0", "listen", 300.0)
    assert recording.raw.info["bads"] == ["Oz"]
    assert not recording.position_mask[recording.ch_names.index("Oz")]
    assert [e.word for e in recording.events] == ["the", "cat", "sat"]
    assert [e.word_index for e in recording.events] == [0, 1, 2]
    assert {e.sentence_id for e in recording.events} == {sentence_id("the cat sat")}
    assert recording.events[1].sound_file == root / "stimuli" / "s1.wav"
    assert recording.events[1].sound_onset_s == pytest.approx(0.5)
    assert len(read_bids(root, subjects=["02"])) == 1


def test_missing_events_tsv_names_the_file(tmp_path: Path) -> None:
    root = _bids_like_eeg(tmp_path / "ds", with_events=False)
    with pytest.raises(BioclError, match="no events.tsv") as info:
        read_bids(root)
    assert "sub-01_ses-0_task-listen_events.tsv" in str(info.value)
    assert read_bids(root, require_events=False)[0].events == []


def test_events_pointing_at_missing_audio_name_the_events_file(tmp_path: Path) -> None:
    root = _bids_like_eeg(tmp_path / "ds", sound="stimuli/absent.wav")
    with pytest.raises(BioclError, match="absent.wav") as info:
        read_bids(root)
    assert "_events.tsv" in str(info.value)


def test_empty_folder_and_missing_root(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="no such BIDS folder"):
        read_bids(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BioclError, match="no MEG/EEG recording"):
        read_bids(tmp_path / "empty")


MASC_ROWS = [
    [10.0, 0.01, "{'story': 'lw1', 'sound_id': 0, 'kind': 'sound', 'start': 0.0, 'sound': 'Stimuli/Audio/lw1_0.0.wav'}"],
    [10.5, 0.2, "{'story': 'lw1', 'sound_id': 0, 'kind': 'word', 'start': 0.5, 'sound': 'Stimuli/Audio/lw1_0.0.wav', "
                "'word': 'Tara', 'sequence_id': 0, 'word_index': 0, 'pronounced': nan}"],
    [10.6, 0.05, "{'story': 'lw1', 'sound_id': 0, 'kind': 'phoneme', 'phoneme': 't_B', 'sequence_id': 0}"],
    [10.8, 0.2, "{'story': 'lw1', 'sound_id': 0, 'kind': 'word', 'start': 0.8, 'sound': 'Stimuli/Audio/lw1_0.0.wav', "
                "'word': 'stood', 'sequence_id': 0, 'word_index': 1}"],
    [12.0, 0.2, "{'story': 'lw1', 'sound_id': 0, 'kind': 'word', 'start': 2.0, 'sound': 'Stimuli/Audio/lw1_0.0.wav', "
                "'word': 'Then', 'sequence_id': 1, 'word_index': 0}"],
]


def test_meg_masc_dict_literals_keep_words_only(tmp_path: Path) -> None:
    _write_wav(tmp_path / "stimuli" / "audio" / "lw1_0.wav", seconds=3.0)
    path = _write_tsv(tmp_path / "sub-01_ses-0_task-0_events.tsv", ["onset", "duration", "trial_type"], MASC_ROWS)
    events = parse_events_tsv(path, bids_root=tmp_path)
    assert [e.word for e in events] == ["Tara", "stood", "Then"]
    assert events[0].sentence == "Tara stood" and events[2].sentence == "Then"
    assert events[0].sentence_id == events[1].sentence_id != events[2].sentence_id
    assert events[1].sound_file == tmp_path / "stimuli" / "audio" / "lw1_0.wav"
    # The word's place in the sound comes from the sound's own event (onset 10.0 s).
    assert events[1].sound_onset_s == pytest.approx(0.8)


def test_trial_type_is_parsed_as_a_literal_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    row = [1.0, 0.1, f"{{'kind': 'word', 'word': __import__('pathlib').Path('{marker}').touch()}}"]
    path = _write_tsv(tmp_path / "events.tsv", ["onset", "duration", "trial_type"], [row])
    with pytest.raises(BioclError, match="line 2: trial_type is not a Python literal") as info:
        parse_events_tsv(path)
    assert not marker.exists()
    assert str(path) in str(info.value)


@pytest.mark.realdata
def test_tiny_bids_reads_without_word_events(shared_data: Path) -> None:
    recordings = read_bids(shared_data / "meg_eeg" / "tiny_bids", require_events=False)
    assert len(recordings) == 1
    recording = recordings[0]
    assert (recording.subject, recording.session, recording.task) == ("01", "eeg", "rest")
    assert recording.raw.get_channel_types(unique=True) == ["eeg"]
    assert len(recording.ch_names) == 64 and recording.sfreq_hz == 5000.0
    assert recording.raw.info["bads"] == ["PO10"]
    # Positions come from its electrodes.tsv; the bad channel is masked.
    assert recording.position_mask.sum() == 63
    assert recording.positions.min() >= 0 and recording.positions.max() <= 1
    # Its events are not words (start_experiment, show_stimulus).
    assert recording.events == []
    with pytest.raises(BioclError, match="no word event"):
        read_bids(shared_data / "meg_eeg" / "tiny_bids")
