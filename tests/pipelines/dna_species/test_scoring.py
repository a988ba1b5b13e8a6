"""dna_species scoring: the per-contig ARI decomposition behind the primary endpoint."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from biocl.pipelines.dna_species.scoring import ari_contributions


@pytest.mark.parametrize("seed", range(5))
def test_ari_contributions_average_to_the_adjusted_rand_index(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, size=60)
    clusters = np.where(rng.random(60) < 0.6, truth, rng.integers(0, 5, size=60))
    values = ari_contributions(truth, clusters)
    assert values.shape == (60,)
    assert np.isclose(values.mean(), adjusted_rand_score(truth, clusters), atol=1e-12)


def test_ari_contributions_edge_cases() -> None:
    assert np.allclose(ari_contributions([0, 0, 1, 1], [5, 5, 7, 7]), 1.0)
    assert np.isclose(ari_contributions([0, 0, 0], [1, 1, 1]).mean(), adjusted_rand_score([0, 0, 0], [1, 1, 1]))
