"""The order-aware text encoder and its word tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from biocl.encoders.base import ENCODERS
from biocl.encoders.text import TextTransformer, WordTokenizer
from biocl.utils.errors import BioclError

CAPTIONS = ["this is a sound of dog", "this is a sound of siren", "dog before siren", "siren before dog",
            "dog while siren"]


def test_registered_with_its_declared_shapes() -> None:
    assert ENCODERS["text_transformer"] is TextTransformer
    encoder = TextTransformer.tiny().eval()
    out = encoder(**encoder.example_inputs(3, generator=torch.Generator().manual_seed(0)))
    assert out.shape == encoder.output_shape(3)


def test_tokenizer_vocabulary_and_encoding(tmp_path: Path) -> None:
    tokenizer = WordTokenizer.build(CAPTIONS)
    assert tokenizer.vocabulary[:3] == ["[PAD]", "[UNK]", "[CLS]"]
    assert tokenizer.vocabulary[3:] == sorted(set(" ".join(CAPTIONS).split()))
    ids, mask = tokenizer.encode(["Dog before SIREN!", "cat"], max_tokens=8)
    assert ids.shape == (2, 4) and ids[0, 0] == 2 and ids[1, 1] == 1  # [CLS]; "cat" is unknown
    assert mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert tokenizer.unknown_words(["a cat before dog"]) == ["cat"]
    tokenizer.save(tmp_path / "tok.json")
    assert WordTokenizer.load(tmp_path / "tok.json").vocabulary == tokenizer.vocabulary
    with pytest.raises(BioclError, match="tokenizer file not found"):
        WordTokenizer.load(tmp_path / "none.json")
