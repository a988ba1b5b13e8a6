"""The pretrained DNA adapter on a tiny random BERT saved to a temporary folder (conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from biocl.encoders.dna import embed_sequences
from biocl.encoders.pretrained.dnabert import PretrainedDnaEncoder
from biocl.utils.errors import BioclError

transformers = pytest.importorskip("transformers")


def _random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def test_embeddings_are_the_masked_mean_of_the_last_layer(tiny_bert_dir: Path) -> None:
    encoder = PretrainedDnaEncoder(tiny_bert_dir, max_tokens=64).eval()
    assert encoder.output_dim == 16 and encoder.n_mix_layers == 2
    rng = np.random.default_rng(0)
    windows = [_random_dna(rng, 30), _random_dna(rng, 12).lower()]
    tokens, mask = encoder.tokenize(windows)
    assert mask[1].sum() < mask[0].sum()
    with torch.no_grad():
        pooled = encoder(tokens, mask)
        hidden = encoder.model(input_ids=tokens, attention_mask=mask.long()).last_hidden_state
    for row in range(2):
        expected = hidden[row, mask[row]].mean(0)
        assert torch.allclose(pooled[row], expected, atol=1e-6)


def test_embed_sequences_keeps_input_order_and_pools_windows(tiny_bert_dir: Path) -> None:
    encoder = PretrainedDnaEncoder(tiny_bert_dir, max_tokens=64)
    rng = np.random.default_rng(1)
    seqs = [_random_dna(rng, 50), _random_dna(rng, 20), _random_dna(rng, 35)]
    together = embed_sequences(encoder, seqs, window_bp=25, batch_size=2)
    one_by_one = np.stack([embed_sequences(encoder, [s], window_bp=25)[0] for s in seqs])
    assert together.shape == (3, 16)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_mixing_with_lam_one_is_the_identity_and_otherwise_changes_the_embedding(tiny_bert_dir: Path) -> None:
    pytest.importorskip("biocl.heads.mixing")
    encoder = PretrainedDnaEncoder(tiny_bert_dir, max_tokens=64).eval()
    rng = np.random.default_rng(2)
    tokens, mask = encoder.tokenize([_random_dna(rng, 24) for _ in range(3)])
    perm = torch.tensor([2, 0, 1])
    with torch.no_grad():
        plain = encoder(tokens, mask)
        for layer in range(encoder.n_mix_layers):
            same = encoder(tokens, mask, mix=(layer, torch.ones(3), perm))
            assert torch.allclose(same, plain, atol=1e-5)
            mixed = encoder(tokens, mask, mix=(layer, torch.full((3,), 0.6), perm))
            assert not torch.allclose(mixed, plain, atol=1e-4)
    # The hook is removed after the call: a plain call gives the plain embedding again.
    with torch.no_grad():
        assert torch.allclose(encoder(tokens, mask), plain)


def test_remote_code_runs_only_when_asked(tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    original = transformers.AutoModel.from_pretrained

    def spy(*args, **kwargs):
        seen.append(kwargs["trust_remote_code"])
        assert kwargs["local_files_only"] is True
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", spy)
    PretrainedDnaEncoder(tiny_bert_dir)
    PretrainedDnaEncoder(tiny_bert_dir, trust_remote_code=True)
    assert seen == [False, True]


def test_missing_folder_or_config_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="not found") as err:
        PretrainedDnaEncoder(tmp_path / "absent")
    assert str(tmp_path / "absent") in err.value.one_line()
    with pytest.raises(BioclError, match="config.json"):
        PretrainedDnaEncoder(tmp_path)


def test_missing_transformers_names_the_extra(tiny_bert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # what a missing package looks like to import
    with pytest.raises(BioclError, match="`transformers` package") as err:
        PretrainedDnaEncoder(tiny_bert_dir)
    assert "pip install 'biocl[hf]'" in err.value.one_line()


def test_registered_as_an_adapter_biocl_does_not_save(tiny_bert_dir: Path, tmp_path: Path) -> None:
    from biocl.encoders import ENCODERS

    assert ENCODERS["hf_dna"] is PretrainedDnaEncoder and PretrainedDnaEncoder.needs_checkpoint
    encoder = PretrainedDnaEncoder.tiny(tiny_bert_dir)
    assert not encoder.savable and not encoder.averages_strands
    with pytest.raises(BioclError, match="cannot save a PretrainedDnaEncoder"):
        encoder.save(tmp_path / "encoder.safetensors")


def test_unpadded_layer_inputs_mix_like_padded_ones() -> None:
    """DNABERT-2's layers take (nnz, d) hidden states and the tokens' flat indices."""
    from biocl.encoders.pretrained.dnabert import mix_layer_input, mix_padded_or_unpadded

    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    hidden = torch.randn(3, 4, 5) * mask.unsqueeze(-1)
    indices = torch.nonzero(mask.flatten()).flatten()
    lam, perm = torch.tensor([0.6, 0.9, 0.5]), torch.tensor([2, 0, 1])
    padded = mix_padded_or_unpadded(hidden, None, lam, perm, mask)
    args = (hidden.reshape(12, 5)[indices], "cu_seqlens", 4, None, indices)
    (unpadded, *rest), kwargs = mix_layer_input(args, {}, lam, perm, mask)
    assert torch.allclose(unpadded, padded.reshape(12, 5)[indices])
    assert rest[:3] == ["cu_seqlens", 4, None] and rest[3] is indices and kwargs == {}
    with pytest.raises(BioclError, match="MI-Mix"):
        mix_padded_or_unpadded(hidden.reshape(12, 5), None, lam, perm, mask)
