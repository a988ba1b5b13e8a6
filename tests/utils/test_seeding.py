"""Scoped seeding: the same draws inside the block for the same seed, the caller's state after it."""

from __future__ import annotations

import pytest
import torch

from biocl.utils.seeding import forked_rng, seed_generators, seeded

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


def test_seeded_repeats_draws_and_restores_the_callers_generator() -> None:
    torch.manual_seed(11)
    before = torch.get_rng_state()
    with seeded(5):
        first = torch.randn(4)
    assert torch.equal(torch.get_rng_state(), before)
    torch.randn(3)  # whatever the caller drew meanwhile
    with seeded(5):
        second = torch.randn(4)
    assert torch.equal(first, second)
    with seeded(6):
        assert not torch.equal(torch.randn(4), first)


def test_seeded_builds_the_same_weights_as_manual_seed() -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        expected = torch.nn.Linear(5, 2).weight.detach()
    with seeded(3):
        got = torch.nn.Linear(5, 2).weight.detach()
    assert torch.equal(got, expected)


def test_forked_rng_gives_back_what_the_block_reseeded() -> None:
    before = torch.get_rng_state()
    with forked_rng("cpu"):
        seed_generators(-7)
        torch.rand(2)
    assert torch.equal(torch.get_rng_state(), before)


@CUDA
def test_a_cuda_device_is_seeded_and_restored_too() -> None:
    device = torch.device("cuda", torch.cuda.current_device())
    before = torch.cuda.get_rng_state(device)
    with seeded(4, device):
        first = torch.randn(3, device=device)
    assert torch.equal(torch.cuda.get_rng_state(device), before)
    with seeded(4, device):
        assert torch.equal(torch.randn(3, device=device), first)
