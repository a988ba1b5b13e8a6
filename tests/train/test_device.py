"""Device choice, autocast, moving nested batches and seeding."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
import torch

from biocl.utils.errors import BioclError
from biocl.train.device import autocast, move_to, seed_everything, select_device


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BioclError, match="unknown device"):
        select_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_a_gpu_is_a_user_error() -> None:
    with pytest.raises(BioclError, match="no GPU is visible"):
        select_device("cuda")


def test_autocast_leaves_cpu_in_float32() -> None:
    layer = torch.nn.Linear(3, 2)
    with autocast(torch.device("cpu")):
        assert layer(torch.ones(1, 3)).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_autocast_uses_bf16_on_cuda() -> None:
    layer = torch.nn.Linear(3, 2).cuda()
    with autocast(torch.device("cuda")):
        assert layer(torch.ones(1, 3, device="cuda")).dtype == torch.bfloat16
    with autocast(torch.device("cuda"), enabled=False):
        assert layer(torch.ones(1, 3, device="cuda")).dtype == torch.float32


def test_move_to_keeps_structure_and_non_tensors() -> None:
    Pair = namedtuple("Pair", "x label")
    batch = {"a": [torch.ones(2), (torch.zeros(1), "id-1")], "pair": Pair(torch.ones(1), 3), "array": np.ones(2)}
    moved = move_to(batch, torch.device("cpu"))
    assert isinstance(moved["pair"], Pair) and moved["pair"].label == 3
    assert isinstance(moved["a"][1], tuple) and moved["a"][1][1] == "id-1"
    assert moved["array"] is batch["array"]
    assert torch.equal(moved["a"][0], torch.ones(2))


def test_seed_everything_repeats_torch_draws() -> None:
    seed_everything(-5)
    first = torch.rand(3)
    seed_everything(-5)
    assert torch.equal(torch.rand(3), first)
