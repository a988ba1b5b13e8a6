"""Seeded initialisation: the weights ``torch.manual_seed`` gives, the caller's generator untouched."""

from __future__ import annotations

import torch

from biocl.utils.seeding import seeded_torch


def test_same_weights_as_a_global_manual_seed() -> None:
    torch.manual_seed(7)
    expected = torch.nn.Linear(5, 3).weight.detach().clone()
    torch.rand(11)  # whatever ran before must not matter
    with seeded_torch(7):
        got = torch.nn.Linear(5, 3).weight.detach().clone()
    assert torch.equal(got, expected)


def test_the_callers_generator_is_left_as_it_was() -> None:
    torch.manual_seed(3)
    untouched = torch.rand(4)
    torch.manual_seed(3)
    with seeded_torch(0):
        torch.nn.Linear(8, 8)
        torch.manual_seed(123)  # even a reseed inside the block does not leak out
    assert torch.equal(torch.rand(4), untouched)
