"""Binning with coverage as a second view: more genomes recovered than composition alone, and its outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from biocl.pipelines.dna_binning import CoverageOptions, bin_fasta, evaluate_binning
from biocl.pipelines.dna_binning.views import coverage_kernel_features, fuse_views, log_coverage_profiles

pytest.importorskip("pysam")


@pytest.fixture(scope="module")
def metagenome(tmp_path_factory: pytest.TempPathFactory):
    """Two strains of each of three simulated species (near-identical composition), four samples."""
    from biocl.data.dna.simulate import simulate_genomes
    from biocl.data.dna.simulate_metagenome import simulate_metagenome

    folder = tmp_path_factory.mktemp("metagenome")
    genomes = simulate_genomes(folder / "g", n_species=3, strains_per_species=2, genome_bp=80_000, seed=0)
    return simulate_metagenome(dict(genomes.genomes), folder / "m", species=dict(genomes.species), n_samples=4,
                               mean_depth=5.0, median_contig_bp=5_000, seed=0)


def _recovered(scores: dict, completeness: float = 0.9, contamination: float = 0.05) -> int:
    return next(r["n_genomes"] for r in scores["amber"]["recovered"]
                if r["completeness_gt"] == completeness and r["contamination_lt"] == contamination)


def test_coverage_recovers_more_genomes_than_composition_alone(metagenome, tmp_path: Path) -> None:
    common = dict(features="tnf", min_length_bp=2_000, min_bin_size=5, seed=0)
    alone = bin_fasta(metagenome.contigs, tmp_path / "tnf", **common)
    both = bin_fasta(metagenome.contigs, tmp_path / "cov", coverage=CoverageOptions(bams=tuple(metagenome.bams)),
                     **common)
    alone_scores = evaluate_binning(tmp_path / "tnf", metagenome.gold_genome)
    both_scores = evaluate_binning(tmp_path / "cov", metagenome.gold_genome)
    assert _recovered(both_scores) > _recovered(alone_scores)
    assert _recovered(both_scores) >= 4 and both_scores["ari"] > alone_scores["ari"] + 0.3
    assert alone["coverage"] is None
    recorded = json.loads((tmp_path / "cov" / "summary.json").read_text())["coverage"]
    assert recorded["samples"] == ["S1", "S2", "S3", "S4"] and recorded["source"] == "bam"
    assert recorded["depth"] == {"trim_bp": 75, "min_identity": 0.97, "min_mapq": 0} and both["threshold"] > 0


def test_a_depth_table_gives_the_bams_bins(metagenome, tmp_path: Path) -> None:
    from biocl.data.dna.coverage import bam_depths
    from biocl.data.dna.fasta import read_sequences

    lengths = {r.id: r.length_bp for r in read_sequences(metagenome.contigs, min_length_bp=0)}
    coverage = bam_depths(metagenome.bams, lengths)
    table = tmp_path / "abundance.tsv"
    table.write_text("contigname\t" + "\t".join(coverage.samples) + "\n"
                     + "".join(f"{c}\t" + "\t".join(repr(float(x)) for x in row) + "\n"
                               for c, row in zip(coverage.contigs, coverage.depth)))
    common = dict(features="tnf", min_length_bp=2_000, min_bin_size=5, seed=0)
    from_bams = bin_fasta(metagenome.contigs, tmp_path / "a", coverage=CoverageOptions(bams=tuple(metagenome.bams)),
                          **common)
    from_table = bin_fasta(metagenome.contigs, tmp_path / "b", coverage=CoverageOptions(abundance=table), **common)
    assert from_table["bin_sizes"] == from_bams["bin_sizes"]
    assert (tmp_path / "a" / "clusters.tsv").read_text() == (tmp_path / "b" / "clusters.tsv").read_text()


def test_min_fasta_is_in_base_pairs_and_bins_sit_in_out_bins(metagenome, tmp_path: Path) -> None:
    summary = bin_fasta(metagenome.contigs, tmp_path / "out", features="tnf", min_length_bp=2_000, min_bin_size=5,
                        coverage=CoverageOptions(bams=tuple(metagenome.bams)), min_fasta_bp=10 ** 9)
    assert summary["n_bins"] > 0 and summary["n_bin_fastas"] == 0 and summary["min_fasta_bp"] == 10 ** 9
    assert not list((tmp_path / "out" / "bins").glob("*.fa")) and not (tmp_path / "out" / "bins" / "bins").exists()
    # clusters.tsv still lists every bin with its lengths, so AMBER's base-pair scores still work.
    scores = evaluate_binning(tmp_path / "out", metagenome.gold_genome)
    assert "amber" in scores and scores["match"]["n_bins"] == summary["n_bins"]
    kept = bin_fasta(metagenome.contigs, tmp_path / "kept", features="tnf", min_length_bp=2_000, min_bin_size=5,
                     coverage=CoverageOptions(bams=tuple(metagenome.bams)), min_fasta_bp=0)
    assert len(list((tmp_path / "kept" / "bins").glob("bin.*.fa"))) == kept["n_bins"]


def test_fused_cosine_is_the_weighted_mean_of_the_views() -> None:
    rng = np.random.default_rng(0)
    composition = rng.normal(size=(5, 8))
    profiles = log_coverage_profiles(rng.lognormal(size=(5, 3)) * 10, np.full(5, 10_000))
    features = coverage_kernel_features(profiles, 1.0, n_features=20_000, rng=rng)
    fused = fuse_views(composition, features, weight=0.3)
    unit = composition / np.linalg.norm(composition, axis=1, keepdims=True)
    kernel = np.exp(-((profiles[:, None] - profiles[None]) ** 2).sum(-1) / 2)
    np.testing.assert_allclose(fused @ fused.T, 0.3 * unit @ unit.T + 0.7 * kernel, atol=0.03)


def test_evaluate_counts_genomes_by_genome_and_species_by_species(metagenome, tmp_path: Path) -> None:
    bin_fasta(metagenome.contigs, tmp_path / "out", features="tnf", min_length_bp=2_000, min_bin_size=5,
              coverage=CoverageOptions(bams=tuple(metagenome.bams)))
    scores = evaluate_binning(tmp_path / "out", metagenome.gold_genome, species_path=metagenome.gold_species)
    assert scores["match"]["n_species"] == 6 and scores["amber"]["n_genomes"] == 6
    assert scores["species"]["match"]["n_species"] == 3
    # Strains split apart: near-perfect at genome level, so half the bins miss at species level.
    assert scores["species"]["ari"] < scores["ari"]
