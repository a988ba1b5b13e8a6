"""Sound readers: formats, resampling, the three layouts, bad clips, the length policy, FSDD."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile

from biocl.data.audio.reading import (fit_length, list_esc50, list_labelled_names, list_manifest, load_audio_dataset,
                              read_audio, rms_dbfs)
from biocl.utils.errors import BioclError


def _tone(seconds: float = 0.5, rate: int = 16000, freq: float = 440.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _write(path: Path, samples: np.ndarray, rate: int = 16000, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, rate, **kwargs)
    return path


@pytest.mark.parametrize("suffix,fmt", [(".wav", None), (".flac", None), (".ogg", "OGG")])
def test_read_formats_mono_float(tmp_path: Path, suffix: str, fmt: str | None) -> None:
    stereo = np.stack([_tone(), 0.5 * _tone()], axis=1)
    path = _write(tmp_path / f"clip{suffix}", stereo, format=fmt) if fmt else _write(tmp_path / f"clip{suffix}", stereo)
    samples = read_audio(path, 16000)
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size == 8000
    # Mono is the mean of the channels (lossy OGG only approximately).
    expected = 0.75 * _tone()
    assert np.abs(samples - expected).max() < (0.05 if suffix == ".ogg" else 1e-3)


def test_read_resamples(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.wav", _tone(rate=8000, freq=300.0), rate=8000)
    samples = read_audio(path, 16000)
    assert samples.size == 8000
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 16000 / samples.size - 300.0) < 5


def test_unreadable_and_missing_files_raise_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(BioclError, match="broken.wav.*cannot decode") as err:
        read_audio(bad, 16000)
    assert "\n" not in str(err.value)
    with pytest.raises(BioclError, match="not found"):
        read_audio(tmp_path / "nope.wav", 16000)


def test_fit_length_pads_and_trims_deterministically() -> None:
    wave = np.arange(1, 6, dtype=np.float32)
    assert fit_length(wave, 9, align="start").tolist() == [1, 2, 3, 4, 5, 0, 0, 0, 0]
    assert fit_length(wave, 9, align="center").tolist() == [0, 0, 1, 2, 3, 4, 5, 0, 0]
    assert fit_length(wave, 3, align="start").tolist() == [1, 2, 3]
    assert fit_length(wave, 3, align="center").tolist() == [2, 3, 4]
    assert np.array_equal(fit_length(wave, 3), fit_length(wave, 3))


def test_rms_dbfs() -> None:
    assert rms_dbfs(np.zeros(10)) == float("-inf")
    assert abs(rms_dbfs(np.ones(10)) - 0.0) < 1e-9
    assert abs(rms_dbfs(_tone(level=1.0)) - (-3.0103)) < 0.01


def _bad_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    _write(folder / "dog_a.wav", _tone(freq=300))
    _write(folder / "cat_b.wav", _tone(freq=600))
    _write(folder / "cat_silent.wav", np.zeros(8000, dtype=np.float32))
    _write(folder / "dog_empty.wav", np.zeros(0, dtype=np.float32))
    (folder / "dog_broken.wav").write_bytes(b"not audio")
    return folder


def test_manifest_counts_every_kind_of_bad_clip(tmp_path: Path) -> None:
    folder = _bad_folder(tmp_path)
    manifest = folder / "manifest.csv"
    rows = [("dog_a.wav", "dog"), ("cat_b.wav", "cat"), ("cat_silent.wav", "cat"), ("dog_empty.wav", "dog"),
            ("dog_broken.wav", "dog"), ("missing.wav", "dog")]
    with open(manifest, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        writer.writerows(rows)
    data = load_audio_dataset(manifest, layout="manifest", sample_rate_hz=16000)
    assert [c.path.name for c in data.clips] == ["cat_b.wav", "dog_a.wav"]
    counts = {e["reason"]: e["count"] for e in data.exclusions}
    assert counts == {"missing file": 1, "silent clip": 1, "zero-length clip": 1, "unreadable audio": 1}
    assert data.n_listed == 6 and data.labels == ["cat", "dog"]
    assert all(e["unit"] == "clip" for e in data.exclusions)


@pytest.mark.parametrize("row,message", [("missing.wav", "missing file"), ("cat_silent.wav", "silent clip"),
                                         ("dog_empty.wav", "zero-length clip"), ("dog_broken.wav", "unreadable")])
def test_on_bad_error_gives_one_line_naming_the_file(tmp_path: Path, row: str, message: str) -> None:
    folder = _bad_folder(tmp_path)
    manifest = folder / "manifest.csv"
    manifest.write_text(f"path,caption\ndog_a.wav,a dog\n{row},something\n")
    with pytest.raises(BioclError, match=message) as err:
        load_audio_dataset(manifest, layout="manifest", sample_rate_hz=16000, on_bad="error")
    line = err.value.one_line()
    assert "\n" not in line and ("missing.wav" in line or row in line)


def test_manifest_needs_path_and_caption_or_label(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,text\na.wav,x\n")
    with pytest.raises(BioclError, match="'path' column"):
        list_manifest(manifest)
    manifest.write_text("path,caption\n")
    assert list_manifest(manifest) == ([], {})


def test_esc50_layout(tmp_path: Path) -> None:
    root = tmp_path / "esc"
    _write(root / "audio" / "1-100-A-0.wav", _tone())
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_text("filename,fold,target,category,esc10,src_file,take\n"
                                             "1-100-A-0.wav,1,0,chirping_birds,False,100,A\n"
                                             "2-101-A-0.wav,2,0,chirping_birds,False,101,A\n")
    clips, excluded = list_esc50(root)
    assert [(c.label, c.group) for c in clips] == [("chirping birds", "1")]
    assert excluded == {"missing file": 1}
    with pytest.raises(BioclError, match="meta/esc50.csv"):
        list_esc50(tmp_path)


def test_labelled_names_fsdd_pattern(tmp_path: Path) -> None:
    for name in ("7_jackson_0.wav", "3_theo_12.wav", "README.wav"):
        _write(tmp_path / name, _tone())
    clips, excluded = list_labelled_names(tmp_path, label_names={"7": "seven"})
    assert [(c.label, c.group) for c in clips] == [("3", "theo"), ("seven", "jackson")]
    assert excluded == {"name without a label": 1}
    with pytest.raises(BioclError, match="label"):
        list_labelled_names(tmp_path, pattern=r"^(?P<digit>\d)")


def test_budget_per_label_is_evenly_spread(tmp_path: Path) -> None:
    for speaker in ("ann", "bob", "cyd"):
        for index in range(4):
            _write(tmp_path / f"1_{speaker}_{index}.wav", _tone(seconds=0.1))
    data = load_audio_dataset(tmp_path, layout="labelled_names", sample_rate_hz=16000, max_clips_per_label=3)
    assert sorted(c.group for c in data.clips) == ["ann", "bob", "cyd"]


@pytest.mark.realdata
def test_fsdd_real_clips(shared_data: Path) -> None:
    folder = shared_data / "audio_events" / "fsdd" / "recordings"
    data = load_audio_dataset(folder, layout="labelled_names", sample_rate_hz=16000, max_clips_per_label=3)
    assert data.labels == [str(d) for d in range(10)]
    assert len(data.clips) + sum(e["count"] for e in data.exclusions) == 30
    clip = data.clips[0]
    assert clip.waveform.dtype == np.float32 and clip.group is not None
    # 8 kHz files read at 16 kHz: twice the frames.
    assert clip.waveform.size == 2 * soundfile.info(str(clip.path)).frames
