"""The compact CLAP dual encoder: order awareness, determinism, padding, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from biocl.encoders.clap import CompactClap, load_clap
from biocl.encoders.dual import fit_waveforms
from biocl.utils.errors import BioclError
from biocl.utils.seeding import seeded

CAPTIONS = ["this is a sound of dog", "this is a sound of siren", "dog before siren", "siren before dog",
            "dog while siren"]


def _tiny_clap(seed: int = 0) -> CompactClap:
    with seeded(seed):
        return CompactClap.build(CAPTIONS, sample_rate_hz=8000,
                                 audio=dict(n_mels=16, n_fft=256, hop_length=80, channels=[4, 8], time_bins=2,
                                            hidden_dim=16, output_dim=16),
                                 text=dict(d_model=16, n_layers=2, n_heads=2, ff_dim=32, max_tokens=8), embed_dim=8)


def test_text_encoder_tells_order_apart() -> None:
    model = _tiny_clap().eval()
    with torch.no_grad():
        emb = model.embed_text(["dog before siren", "siren before dog"])
    assert not np.allclose(emb[0], emb[1], atol=1e-4)
    # A bag of words would give these two captions the same embedding.
    assert sorted("dog before siren".split()) == sorted("siren before dog".split())


def test_padding_does_not_change_a_caption() -> None:
    model = _tiny_clap().eval()
    alone = model.embed_text(["dog before siren"])
    padded = model.embed_text(["dog before siren", "this is a sound of siren"])[:1]
    np.testing.assert_allclose(alone, padded, atol=1e-5)


def test_same_clip_same_embedding_twice_and_normalised() -> None:
    model = _tiny_clap()
    model.train()  # embed_* switch to eval mode themselves and restore the mode afterwards
    clips = np.random.default_rng(0).standard_normal((3, 4000)).astype(np.float32) * 0.1
    first, second = model.embed_audio(clips), model.embed_audio(clips)
    assert np.array_equal(first, second) and model.training
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    text = model.embed_text(CAPTIONS)
    assert np.array_equal(text, model.embed_text(CAPTIONS))


def test_short_clips_are_padded_and_lengths_must_match() -> None:
    model = _tiny_clap()
    short = np.ones((2, 10), dtype=np.float32)
    assert model.prepare_audio(short)["waveform"].shape == (2, model.audio.min_samples)
    with pytest.raises(BioclError, match="equal lengths"):
        fit_waveforms([np.zeros(10), np.zeros(12)], 1)
    with pytest.raises(BioclError, match="too short"):
        model.audio(torch.zeros(1, 10))


def test_forward_concatenates_groups_and_logit_scale_starts_at_clip_value() -> None:
    model = _tiny_clap()
    groups = [model.prepare_audio(np.zeros((2, 4000), np.float32)), model.prepare_audio(np.ones((3, 8000), np.float32))]
    audio, text = model(groups, model.prepare_text(CAPTIONS))
    assert audio.shape == (5, 8) and text.shape == (5, 8)
    assert abs(model.log_scale_value() - np.log(1 / 0.07)) < 1e-6


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = _tiny_clap(seed=3)
    digest = model.save(tmp_path / "model")
    assert len(digest) == 64
    loaded = load_clap(tmp_path / "model")
    assert isinstance(loaded, CompactClap)
    assert loaded.tokenizer.vocabulary == model.tokenizer.vocabulary
    for (name, p), (_, q) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(p, q), name
    with pytest.raises(BioclError, match="config.json is missing"):
        load_clap(tmp_path)


def test_paper_trainable_prefixes_match_parameters() -> None:
    model = _tiny_clap()
    names = [n for n, _ in model.named_parameters()]
    for prefix in model.paper_trainable():
        assert any(n.startswith(prefix) for n in names), prefix
    assert not any(n.startswith(("audio.features", "text.layers.0.", "text.token_embedding"))
                   for n in names if any(n.startswith(p) for p in model.paper_trainable()))
