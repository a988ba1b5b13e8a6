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


def _clustered(n_species: int, per_species: int, seed: int, merged: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Contigs of ``n_species``; the first ``merged`` pairs of species share one cluster, the rest are clean."""
    rng = np.random.default_rng(seed)
    species = np.repeat(np.arange(n_species), per_species)
    clusters = species.copy()
    for pair in range(merged):
        clusters[species == 2 * pair + 1] = 2 * pair
    noisy = rng.random(species.size) < 0.05
    clusters[noisy] = rng.integers(0, n_species, size=int(noisy.sum()))
    return species, clusters


def test_species_bootstrap_recomputes_the_ari_on_the_drawn_species() -> None:
    from biocl.pipelines.dna_species.scoring import species_bootstrap_ari

    species, clusters = _clustered(8, 30, seed=0, merged=2)
    result = species_bootstrap_ari([clusters], species, n_resamples=200, seed=3)
    assert np.isclose(result["ari"], adjusted_rand_score(species, clusters), atol=1e-12)
    assert result["unit"] == "species" and result["n_units"] == 8
    # Each resample is the ARI of the drawn species' contigs, pairs across two copies of a species left out.
    rng = np.random.default_rng(3)
    weights = rng.multinomial(8, np.full(8, 1 / 8), size=200)
    for b in (0, 1, 17):
        keep = np.concatenate([np.flatnonzero(species == s) for s in range(8) for _ in range(weights[b, s])])
        copy = np.concatenate([np.full((species == s).sum(), c) for s in range(8) for c in range(weights[b, s])])
        i, j = np.triu_indices(keep.size, 1)
        counted = (species[keep][i] != species[keep][j]) | (copy[i] == copy[j])
        same_species = (species[keep][i] == species[keep][j])[counted]
        same_cluster = (clusters[keep][i] == clusters[keep][j])[counted]
        index, a, c = (same_species & same_cluster).sum(), same_species.sum(), same_cluster.sum()
        expected = a * c / counted.sum()
        assert np.isclose(result["values"][b], (index - expected) / ((a + c) / 2 - expected), atol=1e-9)
    low, high = result["ci95"]
    assert low <= result["ari"] <= high
    # The resamples centre on the observed ARI (counting cross-copy pairs pushed them above it).
    assert abs(np.median(result["values"]) - result["ari"]) < 0.03


def test_species_interval_is_wider_than_the_per_contig_one() -> None:
    """The old interval resampled contigs with sizes fixed: far narrower than the variation over species."""
    from biocl.evaluate.stats import bootstrap_ci
    from biocl.pipelines.dna_species.scoring import species_bootstrap_ari

    species, clusters = _clustered(16, 50, seed=1, merged=3)
    by_species = species_bootstrap_ari([clusters], species, n_resamples=500, seed=0)["ci95"]
    by_contig = bootstrap_ci(ari_contributions(species, clusters), n_resamples=500, seed=0)
    assert by_species[1] - by_species[0] > 3 * (by_contig[1] - by_contig[0])


def test_species_interval_does_not_collapse_at_the_ceiling() -> None:
    from biocl.pipelines.dna_species.scoring import species_bootstrap_ari

    species = np.repeat(np.arange(8), 10)
    result = species_bootstrap_ari([species.copy(), species + 3], species, n_resamples=200, seed=0)
    assert result["ari"] == pytest.approx(1.0)
    assert result["ci95"][0] < 0.8 and result["ci95"][1] == pytest.approx(1.0)
    assert "Wilson" in result["method"]
