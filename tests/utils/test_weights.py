"""Weights files (:mod:`biocl.utils.weights`): safetensors, tied weights, errors naming the file, stable bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_file
from biocl.utils.weights import load_weights, read_weights, save_weights


class Tied(nn.Module):
    """An embedding whose output layer shares its weight (as language models tie them)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.embed.weight
        self.register_buffer("count", torch.tensor(7))


def _mlp(seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))
    return model


def _same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_weights_round_trip_and_hash(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "w.safetensors"
    digest = save_weights(_mlp(0), path)
    assert digest == sha256_file(path)
    target = _mlp(1)
    load_weights(target, path)
    assert _same(target, _mlp(0))
    assert [p.name for p in path.parent.iterdir()] == ["w.safetensors"]


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path: Path) -> None:
    source = Tied()
    with torch.no_grad():
        source.embed.weight.fill_(2.5)
    save_weights(source, tmp_path / "tied.safetensors")
    stored = read_weights(tmp_path / "tied.safetensors")
    assert set(stored) == {"embed.weight", "out.weight", "count"}
    target = Tied()
    load_weights(target, tmp_path / "tied.safetensors")
    assert torch.equal(target.out.weight, torch.full((5, 3), 2.5))
    assert target.out.weight is target.embed.weight
    assert int(target.count) == 7


def test_missing_corrupt_and_mismatched_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="not found") as err:
        load_weights(_mlp(0), tmp_path / "absent.safetensors")
    assert err.value.path == str(tmp_path / "absent.safetensors")

    corrupt = tmp_path / "corrupt.safetensors"
    save_weights(_mlp(0), corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:40])
    with pytest.raises(BioclError, match="not a readable safetensors") as err:
        load_weights(_mlp(0), corrupt)
    assert err.value.path == str(corrupt)

    other = tmp_path / "other.safetensors"
    save_weights(nn.Sequential(nn.Linear(3, 4)), other)
    with pytest.raises(BioclError, match=r"2 missing \(1.bias, 1.weight\)"):
        load_weights(_mlp(0), other)

    wider = tmp_path / "wider.safetensors"
    save_weights(nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2)), wider)
    with pytest.raises(BioclError, match="shapes do not fit"):
        load_weights(_mlp(0), wider)


def test_non_strict_load_fills_the_shared_names_only(tmp_path: Path) -> None:
    save_weights(nn.Sequential(nn.Linear(3, 4)), tmp_path / "first.safetensors")
    model = _mlp(3)
    before = model[1].weight.clone()
    load_weights(model, tmp_path / "first.safetensors", strict=False)
    assert torch.equal(model[1].weight, before)
    assert torch.equal(model[0].weight, read_weights(tmp_path / "first.safetensors")["0.weight"])


def test_weights_files_are_byte_identical_for_identical_weights(tmp_path: Path) -> None:
    """safetensors orders its metadata like a hash map; the written header is sorted instead."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    digests = {save_weights(model, tmp_path / f"w{i}.safetensors") for i in range(8)}
    assert len(digests) == 1
    assert (tmp_path / "w0.safetensors").read_bytes() == (tmp_path / "w7.safetensors").read_bytes()
    restored = read_weights(tmp_path / "w0.safetensors")
    assert all(torch.equal(restored[k], v) for k, v in model.state_dict().items())
