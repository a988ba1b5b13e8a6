"""The default DNA encoder: tokenizer, reverse complement, masking, MI-Mix hook, windows, checkpoints."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from biocl.data.dna.windows import reverse_complement
from biocl.encoders.base import ENCODERS
from biocl.encoders.dna import (DnaConvEncoder, KmerTokenizer, embed_sequences, load_dna_encoder,
                                save_dna_encoder)
from biocl.utils.errors import BioclError


def _random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def test_tokenizer_matches_brute_force_and_masks_ambiguous_kmers() -> None:
    tokenizer = KmerTokenizer(3)
    table = {"".join(kmer): i + 1 for i, kmer in enumerate(itertools.product("ACGT", repeat=3))}
    seq = "ACGTNacgTTAG"
    expected = [table.get(seq[i:i + 3].upper(), 0) for i in range(len(seq) - 2)]
    assert tokenizer.encode(seq).tolist() == expected
    assert tokenizer.encode("AC").size == 0
    tokens, mask = tokenizer.batch(["ACGTA", "ACG"])
    assert tokens.shape == (2, 3) and mask.tolist() == [[True] * 3, [True, False, False]]


def test_reverse_complement_table_is_an_involution_matching_strings() -> None:
    tokenizer = KmerTokenizer(4)
    table = tokenizer.reverse_complement_table()
    assert torch.equal(table[table], torch.arange(len(table)))
    for kmer in ("AACG", "GATC", "TTTT"):
        assert table[tokenizer.encode(kmer)[0]] == tokenizer.encode(reverse_complement(kmer))[0]


def test_reverse_complement_tokens_equal_tokenising_the_reverse_complement() -> None:
    encoder = DnaConvEncoder.tiny()
    rng = np.random.default_rng(0)
    seqs = [_random_dna(rng, 40), _random_dna(rng, 25) + "NNN" + _random_dna(rng, 10)]
    tokens, _ = encoder.tokenize(seqs)
    flipped, _ = encoder.tokenize([reverse_complement(s) for s in seqs])
    assert torch.equal(encoder.reverse_complement_tokens(tokens), flipped)


def test_both_strands_embedding_is_reverse_complement_invariant() -> None:
    torch.manual_seed(0)
    encoder = DnaConvEncoder.tiny().eval()
    rng = np.random.default_rng(1)
    seqs = [_random_dna(rng, 90), _random_dna(rng, 61)]
    forward = embed_sequences(encoder, seqs, window_bp=1000)
    backward = embed_sequences(encoder, [reverse_complement(s) for s in seqs], window_bp=1000)
    np.testing.assert_allclose(forward, backward, atol=1e-5)
    with torch.no_grad():
        one_strand = encoder(*encoder.tokenize(seqs), both_strands=False)
    assert not torch.allclose(one_strand, torch.from_numpy(forward), atol=1e-4)


def test_padding_does_not_change_an_embedding() -> None:
    torch.manual_seed(0)
    encoder = DnaConvEncoder.tiny().eval()
    rng = np.random.default_rng(2)
    short, long = _random_dna(rng, 37), _random_dna(rng, 120)
    with torch.no_grad():
        alone = encoder(*encoder.tokenize([short]))
        padded = encoder(*encoder.tokenize([short, long]))[:1]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_mixing_hook_identity_range_and_gradient() -> None:
    torch.manual_seed(0)
    encoder = DnaConvEncoder.tiny()
    assert encoder.n_mix_layers == encoder.n_blocks == 2
    rng = np.random.default_rng(3)
    tokens, mask = encoder.tokenize([_random_dna(rng, 50) for _ in range(4)])
    perm = torch.tensor([1, 2, 3, 0])
    plain = encoder(tokens, mask)
    for layer in range(encoder.n_mix_layers):
        same = encoder(tokens, mask, mix=(layer, torch.ones(4), perm))
        assert torch.allclose(same, plain, atol=1e-6)
        mixed = encoder(tokens, mask, mix=(layer, torch.full((4,), 0.7), perm))
        assert not torch.allclose(mixed, plain, atol=1e-4)
        mixed.sum().backward()
        assert encoder.embedding.weight.grad is not None and encoder.embedding.weight.grad.abs().sum() > 0
        encoder.zero_grad()
    with pytest.raises(ValueError, match="mix layer"):
        encoder(tokens, mask, mix=(encoder.n_mix_layers, torch.ones(4), perm))


def test_full_mixing_at_the_embeddings_gives_the_partner() -> None:
    """lam = 0 at layer 0 replaces every anchor by its partner (equal lengths, so equal masks)."""
    torch.manual_seed(0)
    encoder = DnaConvEncoder.tiny().eval()
    rng = np.random.default_rng(4)
    tokens, mask = encoder.tokenize([_random_dna(rng, 44) for _ in range(3)])
    perm = torch.tensor([2, 0, 1])
    with torch.no_grad():
        swapped = encoder(tokens, mask, mix=(0, torch.zeros(3), perm), both_strands=False)
        plain = encoder(tokens, mask, both_strands=False)
    assert torch.allclose(swapped, plain[perm], atol=1e-5)


def test_embed_sequences_pools_windows_by_length_in_input_order() -> None:
    torch.manual_seed(0)
    encoder = DnaConvEncoder.tiny().eval()
    rng = np.random.default_rng(5)
    seqs = [_random_dna(rng, 250), _random_dna(rng, 80), _random_dna(rng, 160)]
    pooled = embed_sequences(encoder, seqs, window_bp=100, batch_size=2)
    assert pooled.shape == (3, encoder.output_dim) and pooled.dtype == np.float32
    # 250 bp -> windows of 100, 100 and 50 bp (50 >= 100 / 4 is kept), weighted by length.
    pieces = [seqs[0][:100], seqs[0][100:200], seqs[0][200:]]
    windows = embed_sequences(encoder, pieces, window_bp=100)
    expected = (100 * windows[0] + 100 * windows[1] + 50 * windows[2]) / 250
    np.testing.assert_allclose(pooled[0], expected, atol=1e-5)
    np.testing.assert_allclose(pooled[1], embed_sequences(encoder, [seqs[1]], window_bp=100)[0], atol=1e-5)


def test_checkpoint_round_trip_and_bad_files(tmp_path: Path) -> None:
    torch.manual_seed(0)
    encoder = DnaConvEncoder(k=3, dim=8, n_blocks=1, downsample=2)
    digest = save_dna_encoder(encoder, tmp_path / "enc.safetensors")
    assert len(digest) == 64
    loaded = load_dna_encoder(tmp_path / "enc.safetensors")
    assert loaded.config() == encoder.config()
    for name, tensor in encoder.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(BioclError, match="safetensors"):
        load_dna_encoder(tmp_path / "junk.safetensors")
    with pytest.raises(BioclError, match="not found"):
        load_dna_encoder(tmp_path / "absent.safetensors")


def test_registered_and_contract_shapes() -> None:
    assert ENCODERS["dna_conv"] is DnaConvEncoder
    encoder = DnaConvEncoder.tiny()
    inputs = encoder.example_inputs(3, generator=torch.Generator().manual_seed(0))
    assert encoder(**inputs).shape == encoder.output_shape(3)



def test_bagged_embedding_equals_embedding_then_downsample_with_gradients() -> None:
    """The fast path (embedding_bag per block) is the simple path's sums in another order."""
    from biocl.encoders.dna import DnaConvEncoder

    torch.manual_seed(0)
    encoder = DnaConvEncoder(dim=24, n_blocks=2, downsample=8)
    tokens = torch.randint(0, encoder.tokenizer.vocab_size, (3, 101))
    tokens[2, 60:] = 0
    mask = (tokens > 0) & (torch.rand(3, 101) > 0.1)
    fast, fast_mask = encoder._embed_downsampled(tokens, mask)
    slow, slow_mask = encoder._downsample(encoder.embedding(tokens), mask)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    assert torch.equal(fast_mask, slow_mask)
    fast.square().sum().backward()
    fast_grad = encoder.embedding.weight.grad.clone()
    encoder.embedding.weight.grad = None
    slow.square().sum().backward()
    torch.testing.assert_close(fast_grad, encoder.embedding.weight.grad, rtol=1e-4, atol=1e-6)
