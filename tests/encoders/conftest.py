"""Tiny pretrained checkpoints written to temporary folders, for the adapters and the contract tests.

Both are randomly initialised and saved the way the hub lays out a folder, so the adapters
read them exactly as they read a real checkpoint; nothing is downloaded. Without
transformers the fixtures skip the tests that use them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biocl.utils.seeding import seeded

DNA_BASES = "ACGTN"


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 16-wide BERT and a character-level WordPiece tokenizer over DNA bases."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny_bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *DNA_BASES, *(f"##{b}" for b in DNA_BASES)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # A vocab.txt plus tokenizer_config.json is the hub layout that both transformers 4 and 5 read.
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": False, "tokenizer_class": "BertTokenizer", "model_max_length": 128}))
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=128)
    with seeded(0):
        transformers.BertModel(config).save_pretrained(folder)
    return folder


def _byte_level_tokenizer(folder: Path):
    """A RoBERTa byte-level BPE tokenizer with one token per byte (no merges): nothing downloaded."""
    from transformers import RobertaTokenizer

    # GPT-2's byte-to-character table: printable bytes stand for themselves, the others
    # are shifted past 255.
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    characters = [chr(b) for b in printable] + [chr(256 + i) for i in range(256 - len(printable))]
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {token: i for i, token in enumerate(specials + characters)}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")), len(vocab)


@pytest.fixture(scope="session")
def tiny_clap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny CLAP (16 kHz, 1 s clips, 16-dimensional space) with its processor."""
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny_clap")
    tokenizer, vocab_size = _byte_level_tokenizer(folder)
    config = transformers.ClapConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=64, projection_dim=16),
        audio_config=dict(num_mel_bins=16, window_size=4, spec_size=64, patch_size=2, patch_stride=2, hidden_size=32,
                          patch_embeds_hidden_size=16, projection_dim=16, depths=[1, 1], num_hidden_layers=2,
                          num_attention_heads=[2, 2], enable_fusion=False),
        projection_dim=16)
    with seeded(0):
        transformers.ClapModel(config).save_pretrained(folder)
    extractor = transformers.ClapFeatureExtractor(feature_size=16, sampling_rate=16000, hop_length=160, max_length_s=1,
                                                  fft_window_size=512, truncation="fusion", padding="repeatpad")
    transformers.ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


#: The fixture writing a tiny checkpoint for each registered adapter that needs one.
CHECKPOINT_FIXTURES = {"hf_dna": "tiny_bert_dir", "hf_clap": "tiny_clap_dir"}


@pytest.fixture
def tiny_encoder(request: pytest.FixtureRequest):
    """``tiny_encoder(name)``: the tiny instance of a registered encoder, from a tiny checkpoint if it needs one."""
    from biocl.encoders import ENCODERS

    def build(name: str):
        cls = ENCODERS[name]
        if not cls.needs_checkpoint:
            return cls.tiny()
        return cls.tiny(request.getfixturevalue(CHECKPOINT_FIXTURES[name]))

    return build
