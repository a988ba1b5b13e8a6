"""Reading speech: resampling and mixing to mono, bad files, real word timings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from biocl.data.speech.reading import read_speech, read_word_timings
from biocl.utils.errors import BioclError

SR = 16000


def _tone(freq_hz: float, seconds: float, sr: int = SR) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq_hz * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def test_read_speech_resamples_and_mixes_to_mono(tmp_path: Path) -> None:
    stereo = np.stack([_tone(440, 1.0, 8000), _tone(440, 1.0, 8000)], axis=1)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, stereo, 8000)
    wave = read_speech(path, 16000)
    assert wave.dtype == torch.float32 and wave.shape == (16000,)
    assert 0.45 < float(wave[2000:-2000].abs().max()) < 0.55


def test_read_speech_errors(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="no such audio file"):
        read_speech(tmp_path / "absent.wav")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEnot really")
    with pytest.raises(BioclError, match="cannot read the audio file") as info:
        read_speech(broken)
    assert str(broken) in str(info.value)
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(BioclError, match="no samples"):
        read_speech(empty)


@pytest.mark.realdata
def test_librivox_word_timings(shared_data: Path) -> None:
    words = read_word_timings(shared_data / "speech" / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.json")
    assert [w for w, _, _ in words] == ["he", "was", "not", "an", "ill", "disposed", "young", "man"]
    assert words[1][1:] == pytest.approx((0.33, 0.23))
    text = (shared_data / "speech" / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.txt").read_text()
    assert " ".join(w for w, _, _ in words) in text.lower()


def test_word_timings_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"no_w": []}')
    with pytest.raises(BioclError, match="not a word-timing JSON"):
        read_word_timings(path)
