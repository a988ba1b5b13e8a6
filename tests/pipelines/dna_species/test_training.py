"""C2LR training of a DNA encoder: positive-pair batches sharded by rank, and both phases' steps."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from biocl.encoders.dna import DnaConvEncoder
from biocl.pipelines.dna_species.training import ContrastiveDnaModel, PairBatches, phase_step
from biocl.utils.errors import BioclError


def _groups(rng: np.random.Generator, n_species: int = 5) -> dict:
    return {f"sp{s}": {f"sp{s}_st{t}": ["".join(rng.choice(list("ACGT"), size=900))] for t in range(2)}
            for s in range(n_species)}


def test_pair_batches_draw_each_species_once_and_shard_by_rank() -> None:
    rng = np.random.default_rng(0)
    groups = _groups(rng)
    encoder = DnaConvEncoder.tiny()
    batches = PairBatches(groups, encoder.tokenize, batch_size=8, steps=3, segment_bp=200)
    assert batches.effective_batch_size == 5
    single = list(batches(SimpleNamespace(generator=np.random.default_rng(1), rank=0, world_size=1)))
    assert len(single) == 3 and all(b["tokens"].shape[0] == 10 for b in single)
    four = PairBatches(groups, encoder.tokenize, batch_size=4, steps=2, segment_bp=200)
    ranks = [list(four(SimpleNamespace(generator=np.random.default_rng(1), rank=r, world_size=2))) for r in (0, 1)]
    assert all(b["tokens"].shape[0] == 4 for shard in ranks for b in shard)
    whole = list(four(SimpleNamespace(generator=np.random.default_rng(1), rank=0, world_size=1)))
    # Rank shards are the halves of the global batch: anchors then positives of each half.
    joined = torch.cat([ranks[0][0]["tokens"][:2], ranks[1][0]["tokens"][:2]])
    width = min(joined.shape[1], whole[0]["tokens"].shape[1])
    assert torch.equal(joined[:, :width], whole[0]["tokens"][:4, :width])


def test_both_c2lr_steps_give_finite_losses_and_gradients() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    encoder = DnaConvEncoder.tiny()
    model = ContrastiveDnaModel(encoder, head_out_dim=8, head_lr_multiplier=10.0)
    batch = next(iter(PairBatches(_groups(rng), encoder.tokenize, 4, 1, 200)(
        SimpleNamespace(generator=rng, rank=0, world_size=1))))
    ctx = SimpleNamespace(generator=torch.Generator().manual_seed(0))
    for name in ("weighted_infonce", "mimix"):
        step = phase_step(name, tau=0.05, gather=True, n_mix_layers=encoder.n_mix_layers)
        loss, logs = step(model, batch, ctx)
        assert torch.isfinite(loss)
        loss.backward()
        assert all(p.grad is not None for p in model.head.parameters())
        model.zero_grad()
    with pytest.raises(BioclError, match="unknown C2LR loss"):
        phase_step("simclr", tau=0.05, gather=True, n_mix_layers=2)
