"""The sound-event simulator writes ESC-50 folders that the real reader loads, byte-identical per seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biocl.data.audio.reading import load_audio_dataset, rms_dbfs
from biocl.data.audio.simulate import SOUND_CLASSES, simulate_sound_events, synthesize
from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_file


def test_simulated_folder_reads_back_as_esc50(tmp_path: Path) -> None:
    summary = simulate_sound_events(tmp_path / "sim", n_classes=4, clips_per_class=5, clip_s=0.5, sample_rate_hz=8000)
    assert summary["simulated"] is True and summary["n_clips"] == 20
    data = load_audio_dataset(tmp_path / "sim", layout="esc50", sample_rate_hz=8000)
    assert data.labels == sorted(summary["classes"]) and len(data.clips) == 20 and data.exclusions == []
    assert {c.waveform.size for c in data.clips} == {4000}
    assert {c.group for c in data.clips} == {"1", "2", "3", "4", "5"}
    assert all(c.caption == f"this is a sound of {c.label}" for c in data.clips)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    kwargs = dict(n_classes=2, clips_per_class=2, clip_s=0.25, sample_rate_hz=8000)
    a = simulate_sound_events(tmp_path / "a", seed=3, **kwargs)
    b = simulate_sound_events(tmp_path / "b", seed=3, **kwargs)
    c = simulate_sound_events(tmp_path / "c", seed=4, **kwargs)
    assert a["sha256"] == b["sha256"] != c["sha256"]
    first = sorted((tmp_path / "a" / "audio").glob("*.wav"))[0]
    assert sha256_file(first) == sha256_file(tmp_path / "b" / "audio" / first.name)


def test_every_class_varies_and_is_audible() -> None:
    for name in SOUND_CLASSES:
        one = synthesize(name, 0.5, 16000, np.random.default_rng(0))
        two = synthesize(name, 0.5, 16000, np.random.default_rng(1))
        assert one.shape == (8000,) and one.dtype == np.float32
        assert not np.array_equal(one, two)
        assert -45 < rms_dbfs(one) < -10


def test_refuses_existing_folder_and_bad_arguments(tmp_path: Path) -> None:
    simulate_sound_events(tmp_path / "s", n_classes=2, clips_per_class=1, clip_s=0.1, sample_rate_hz=8000)
    with pytest.raises(BioclError, match="already exists"):
        simulate_sound_events(tmp_path / "s", n_classes=2, clips_per_class=1, clip_s=0.1, sample_rate_hz=8000)
    with pytest.raises(BioclError, match="n_classes"):
        simulate_sound_events(tmp_path / "t", n_classes=13)
    with pytest.raises(BioclError, match="unknown simulated sound class"):
        synthesize("dog", 0.5, 16000, np.random.default_rng(0))
    assert not (tmp_path / "t").exists()
