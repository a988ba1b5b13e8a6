"""Speech features and their cache: hand-checkable properties on synthetic tones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from biocl.data.speech.cache import FeatureCache
from biocl.data.speech.features import (
    Standardiser,
    envelope_features,
    mel_features,
    standardise,
    wav2vec_features,
)
from biocl.data.speech.reading import read_speech
from biocl.utils.errors import BioclError

SR = 16000


def _tone(freq_hz: float, seconds: float, sr: int = SR) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq_hz * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


@pytest.mark.filterwarnings("ignore:At least one mel filterbank")
def test_mel_frame_count_and_peak_band() -> None:
    import torchaudio.functional

    mel = mel_features(_tone(1000.0, 2.5), SR)
    assert mel.shape == (120, 300) and mel.dtype == np.float32
    # The loudest band is the one whose triangular filter peaks closest to 1 kHz.
    centres = torchaudio.functional.melscale_fbanks(257, 0.0, SR / 2, 120, SR).argmax(dim=0) * SR / 512
    expected_band = int(np.argmin(np.abs(centres.numpy() - 1000.0)))
    assert abs(int(np.median(mel[:, 10:-10].argmax(axis=0))) - expected_band) <= 1
    # A tone 4 times as loud is 16 times the power: +log10(16) in every frame of the peak band.
    louder = mel_features(4 * _tone(1000.0, 2.5), SR)
    np.testing.assert_allclose(louder[expected_band, 10:-10] - mel[expected_band, 10:-10], np.log10(16), atol=1e-3)


def test_mel_frames_follow_a_tone_burst_in_time() -> None:
    wave = np.zeros(SR * 2, dtype=np.float32)
    wave[SR // 2: SR] = _tone(500.0, 0.5)
    energy = mel_features(wave, SR).max(axis=0)
    loud = np.flatnonzero(energy > energy.max() - 1.0)
    # The burst spans 0.5-1.0 s: frames 60-120 at 120 Hz (a 32 ms window blurs the edges by ~2 frames).
    assert abs(loud[0] - 60) <= 3 and abs(loud[-1] - 119) <= 3


def test_envelope_of_an_amplitude_modulated_tone() -> None:
    t = np.arange(SR * 3) / SR
    modulation = 1.0 + 0.5 * np.sin(2 * np.pi * 4.0 * t)
    envelope = envelope_features(modulation * np.sin(2 * np.pi * 800 * t), SR)
    assert envelope.shape == (1, 360)
    expected = 1.0 + 0.5 * np.sin(2 * np.pi * 4.0 * np.arange(360) / 120)
    np.testing.assert_allclose(envelope[0, 12:-12], expected[12:-12], atol=0.02)


def test_standardise_uses_one_global_mean_and_std() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(3.0, 2.0, size=(4, 50)), rng.normal(3.0, 2.0, size=(4, 70))]
    out = standardise(parts)
    pooled = np.concatenate([p.ravel() for p in out])
    assert abs(pooled.mean()) < 1e-6 and abs(pooled.std() - 1.0) < 1e-5
    scaler = Standardiser().fit(parts[0])
    np.testing.assert_allclose(scaler.transform(parts[0]), (parts[0] - parts[0].mean()) / parts[0].std(), atol=1e-5)
    assert isinstance(scaler.mean_, float) and isinstance(scaler.std_, float)


def test_feature_cache_hits_on_second_call_and_keys_files_by_content(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    soundfile.write(audio, _tone(300, 0.5), SR)
    cache = FeatureCache(tmp_path / "cache")
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return mel_features(read_speech(audio), SR, n_mels=8)

    key = {"feature": "mel", "version": 1, "audio": audio, "n_mels": 8}
    first = cache.get_or_compute(key, compute)
    second = cache.get_or_compute(key, compute)
    np.testing.assert_array_equal(first, second)
    assert (cache.hits, cache.misses, len(calls)) == (1, 1, 1)
    # The same bytes under another name hit; other parameters or other bytes miss.
    copy = tmp_path / "copy.wav"
    copy.write_bytes(audio.read_bytes())
    cache.get_or_compute({**key, "audio": copy}, compute)
    cache.get_or_compute({**key, "n_mels": 16}, compute)
    assert (cache.hits, cache.misses) == (2, 2)
    # A new process (new cache object) reads the same file.
    assert FeatureCache(tmp_path / "cache").get_or_compute(key, compute).shape == (8, 60)


def test_wav2vec_features_from_a_tiny_local_checkpoint(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_stride=(5, 64), conv_kernel=(10, 64), num_feat_extract_layers=2,
        num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, do_stable_layer_norm=True,
        feat_extract_norm="layer",
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformers.Wav2Vec2Model(config).save_pretrained(tmp_path / "w2v")
    wave = _tone(220, 1.5)
    features = wav2vec_features(wave, SR, tmp_path / "w2v", layers=(1, 3))
    assert features.shape == (16, 180) and np.isfinite(features).all()
    # Layers 1-3 inclusive: the mean of hidden_states[1], [2] and [3].
    model = transformers.Wav2Vec2Model.from_pretrained(tmp_path / "w2v").eval()
    with torch.no_grad():
        normalised = (wave - wave.mean()) / (wave.std() + 1e-7)
        states = model(torch.from_numpy(normalised)[None], output_hidden_states=True).hidden_states
    mean = torch.stack(states[1:4]).mean(0)[0].T.numpy()
    # Frame 0 of the model is centred at 12.5 ms: 120 Hz frame 3 (25 ms) lies between frames 0 and 1.
    np.testing.assert_allclose(features[:, 3], 0.375 * mean[:, 0] + 0.625 * mean[:, 1], rtol=1e-4, atol=1e-5)
    chunked = wav2vec_features(wave, SR, tmp_path / "w2v", layers=(1, 3), chunk_s=0.5)
    assert chunked.shape == features.shape
    with pytest.raises(BioclError, match="outside"):
        wav2vec_features(wave, SR, tmp_path / "w2v", layers=(3, 9))


def test_wav2vec_missing_checkpoint_names_the_folder_and_extra(tmp_path: Path) -> None:
    with pytest.raises(BioclError) as info:
        wav2vec_features(np.zeros(16000, dtype=np.float32), SR, tmp_path / "nothing")
    assert str(tmp_path / "nothing") in str(info.value) and "biocl[hf]" in str(info.value)
