"""Synthetic genomes (composition, strains, determinism) and contig sampling with an error model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from biocl.data.dna.fasta import read_sequences
from biocl.data.dna.windows import reverse_complement
from biocl.data.dna.simulate import (
    apply_sequencing_errors,
    gold_standard_path,
    sample_contigs,
    simulate_genomes,
)
from biocl.data.dna.tnf import CanonicalTNF
from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_files


@pytest.fixture(scope="module")
def genomes(tmp_path_factory):
    return simulate_genomes(tmp_path_factory.mktemp("genomes"), n_species=6, strains_per_species=2,
                            genome_bp=60_000, seed=3)


def _gold_rows(path: Path) -> dict[str, dict[str, str]]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("@")
             or line.startswith("@@")]
    header = lines[0][2:].split("\t")
    return {row[0]: dict(zip(header, row)) for row in csv.reader(lines[1:], delimiter="\t")}


def test_manifest_and_files(genomes):
    rows = list(csv.DictReader(genomes.manifest.open(), delimiter="\t"))
    assert list(rows[0]) == ["file", "genome_label", "species", "strain", "length_bp", "gc", "phylum"]
    assert len(rows) == 12 and len({r["species"] for r in rows}) == 6
    for row in rows:
        (record,) = read_sequences(genomes.out_dir / row["file"])
        assert record.id == row["genome_label"] and record.length_bp == int(row["length_bp"])
        assert set(record.seq) <= set("ACGT")
        # Strains carry indels and 2-3 islands of 1-4 % on top of the ancestral 60 kb.
        assert 60_000 < record.length_bp < 60_000 * 1.13


def test_composition_differs_between_species_and_barely_between_strains(genomes):
    gc = {label: genomes.gc[label] for label in genomes.genomes}
    species_gc = {}
    for label, value in gc.items():
        species_gc.setdefault(genomes.species[label], []).append(value)
    means = [np.mean(v) for v in species_gc.values()]
    assert max(means) - min(means) > 0.15
    assert all(0.28 < g < 0.72 for g in gc.values())
    assert max(max(v) - min(v) for v in species_gc.values()) < 0.02
    labels = list(genomes.genomes)
    features = CanonicalTNF().fit_transform([next(read_sequences(genomes.genomes[x])).seq for x in labels])
    distance = np.linalg.norm(features[:, None] - features[None], axis=-1)
    species = np.array([genomes.species[x] for x in labels])
    same = (species[:, None] == species[None]) & ~np.eye(len(labels), dtype=bool)
    different = species[:, None] != species[None]
    assert distance[same].max() < distance[different].min()


def test_simulation_is_deterministic(tmp_path):
    first = simulate_genomes(tmp_path / "a", n_species=2, strains_per_species=1, genome_bp=5_000, seed=11)
    second = simulate_genomes(tmp_path / "b", n_species=2, strains_per_species=1, genome_bp=5_000, seed=11)
    third = simulate_genomes(tmp_path / "c", n_species=2, strains_per_species=1, genome_bp=5_000, seed=12)
    digest = [sha256_files(list(run.genomes.values()), root=run.out_dir) for run in (first, second, third)]
    assert digest[0] == digest[1] != digest[2]
    with pytest.raises(BioclError):
        simulate_genomes(tmp_path / "d", n_species=0)


def _window_tnf(path: Path, window_bp: int = 2_000) -> np.ndarray:
    seq = next(read_sequences(path)).seq
    return CanonicalTNF().fit_transform([seq[i:i + window_bp] for i in range(0, len(seq) - window_bp, window_bp)])


def test_codon_adaptation_is_small_and_not_shared_by_all_species(tmp_path):
    """Translational selection touches a few per cent of genes: at the realistic strength
    (codon_adaptation 1) it barely widens a genome's spread of window TNF (the old shared
    shift of two thirds of all genes widened it by a third), and species that differ in GC
    content do not share one preferred direction."""
    plain = simulate_genomes(tmp_path / "plain", n_species=2, strains_per_species=1, genome_bp=60_000, seed=5)
    adapted = simulate_genomes(tmp_path / "adapted", n_species=2, strains_per_species=1, genome_bp=60_000,
                               seed=5, codon_adaptation=1.0)
    spread = {}
    for name, run in (("plain", plain), ("adapted", adapted)):
        windows = [_window_tnf(path) for path in run.genomes.values()]
        spread[name] = np.mean([np.linalg.norm(w - w.mean(0), axis=1).mean() for w in windows])
    assert spread["adapted"] < 1.05 * spread["plain"]
    with pytest.raises(BioclError, match="codon_adaptation"):
        simulate_genomes(tmp_path / "bad", n_species=2, codon_adaptation=-1.0)


def test_preferred_codons_follow_gc_content_and_differ_between_species():
    from biocl.data.dna.simulate import _FAMILIES, _GC3, _preferred_codons

    rng = np.random.default_rng(0)
    n_families = sum(len(f) > 1 for f in _FAMILIES)
    share = {}
    for gc in (0.3, 0.7):
        draws = np.array([_preferred_codons(gc, rng) for _ in range(100)])
        assert (draws.sum(1) == n_families).all()  # one preferred codon per synonymous family
        share[gc] = (draws @ _GC3 / n_families).mean()
    assert share[0.3] < 0.25 and share[0.7] > 0.75
    # Two species of one GC content: their tRNA pools differ, so do their preferred codons.
    a, b = _preferred_codons(0.5, rng), _preferred_codons(0.5, rng)
    assert 0 < (a != b).sum()


def test_only_a_few_per_cent_of_genes_are_under_translational_selection():
    from biocl.data.dna.simulate import _SENSE, _composition, _gene, _phylum_offsets
    from biocl.data.dna.windows import reverse_complement

    rng = np.random.default_rng(1)
    # An exaggerated strength makes each highly expressed gene recognisable by its codons.
    composition = _composition(0.5, _phylum_offsets(rng), rng, noise=0.3, adaptation=20.0)
    preferred = {c for c, p in zip(_SENSE, np.asarray(composition.codon_cumulative[1][0]) - np.r_[
        0.0, np.asarray(composition.codon_cumulative[1][0])[:-1]]) if p > 0.01}
    selected = 0
    n_genes = 600
    for _ in range(n_genes):
        gene = _gene(composition, rng)
        gene = gene if gene.startswith("ATG") else reverse_complement(gene)
        codons = [gene[i:i + 3] for i in range(3, len(gene) - 3, 3)]
        selected += np.mean([c in preferred for c in codons]) > 0.9
    assert 0.02 * n_genes < selected < 0.09 * n_genes


def _check_sources(reads: Path, gold: Path, genome_seqs: dict[str, dict[str, str]]) -> dict[str, float]:
    """Compare every fragment with its source slice; return the measured error numbers."""
    rows = _gold_rows(gold)
    mismatches = bases = n_reverse = 0
    for record in read_sequences(reads, min_length_bp=1):
        row = rows[record.id]
        source = genome_seqs[row["BINID"]][row["_RECORD"]][int(row["_START"]):int(row["_END"])]
        expected = reverse_complement(source) if row["_STRAND"] == "-" else source
        n_reverse += row["_STRAND"] == "-"
        assert int(row["_LENGTH"]) == record.length_bp == len(expected)
        mismatches += sum(a != b for a, b in zip(record.seq, expected))
        bases += len(expected)
    return {"substitution_rate": mismatches / bases, "reverse_fraction": n_reverse / len(rows)}


def test_sample_contigs_from_simulated_genomes(genomes, tmp_path):
    reads, gold = sample_contigs(genomes.genomes, tmp_path / "contigs.fa.gz", n_per_genome=10,
                                 length_bp=(2_500, 5_000), substitution_rate=0.05, seed=4)
    assert gold == tmp_path / "contigs.binning"
    records = list(read_sequences(reads))
    assert len(records) == 120 and all(2_500 <= r.length_bp <= 5_000 for r in records)
    rows = _gold_rows(gold)
    assert [r.id for r in records] == list(rows) == [f"contig_{i:06d}" for i in range(120)]
    labels = [rows[r.id]["BINID"] for r in records]
    assert labels != sorted(labels), "contigs are shuffled across genomes"
    seqs = {label: {label: next(read_sequences(path)).seq} for label, path in genomes.genomes.items()}
    measured = _check_sources(reads, gold, seqs)
    assert measured["substitution_rate"] == pytest.approx(0.05, abs=0.006)
    assert measured["reverse_fraction"] == pytest.approx(0.5, abs=0.15)


def test_fastq_output_and_lognormal_lengths(genomes, tmp_path):
    reads, gold = sample_contigs(dict(list(genomes.genomes.items())[:2]), tmp_path / "reads.fq", n_per_genome=30,
                                 length_bp={"median_bp": 3_000, "sigma": 0.3, "min_bp": 1_000, "max_bp": 9_000},
                                 fmt="fastq", reverse_complement_fraction=0.0, seed=5)
    lines = reads.read_text().splitlines()
    assert lines[0].startswith("@contig_") and len(lines[1]) == len(lines[3])
    lengths = [r.length_bp for r in read_sequences(reads, min_length_bp=1)]
    assert 1_000 <= min(lengths) and max(lengths) <= 9_000
    assert 2_000 < np.median(lengths) < 4_500
    assert {row["_STRAND"] for row in _gold_rows(gold).values()} == {"+"}


def test_indel_error_model_changes_lengths_at_the_given_rates():
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 200_000))
    deleted = apply_sequencing_errors(seq, rng, deletion_rate=0.04)
    inserted = apply_sequencing_errors(seq, rng, insertion_rate=0.03)
    assert len(deleted) / len(seq) == pytest.approx(0.96, abs=0.003)
    assert len(inserted) / len(seq) == pytest.approx(1.03, abs=0.003)
    substituted = apply_sequencing_errors(seq, rng, substitution_rate=0.08)
    assert np.mean([a != b for a, b in zip(seq, substituted)]) == pytest.approx(0.08, abs=0.003)
    assert apply_sequencing_errors("ACGTN" * 10, rng, substitution_rate=0.99).count("N") == 10
    with pytest.raises(BioclError, match="deletion rate"):
        apply_sequencing_errors(seq, rng, deletion_rate=1.5)


def test_sample_contigs_bad_arguments(genomes, tmp_path):
    with pytest.raises(BioclError, match="format"):
        sample_contigs(genomes.genomes, tmp_path / "x.fa", fmt="bam")
    with pytest.raises(BioclError, match="length range"):
        sample_contigs(genomes.genomes, tmp_path / "x.fa", length_bp=(10, 5))
    with pytest.raises(BioclError, match="median_bp"):
        sample_contigs(genomes.genomes, tmp_path / "x.fa", length_bp={"mean": 5})
    assert gold_standard_path("a/b/reads.fastq.gz") == Path("a/b/reads.binning")


REAL_SUBSET = {"gtdbtk_3": "gtdbtk_genome_3.fna.gz", "e_coli_miij": "MIIJ01000039.fna.gz",
               "l_plantarum": "quast_meta_ref_1.fasta.gz", "mt_human": "minimap2_MT-human.fa.gz",
               "kutzneria": "KK037166_kutzneria.fna.gz"}


def _real_sources(folder: Path, names: dict[str, str]) -> dict[str, dict[str, str]]:
    return {label: {r.id: r.seq for r in read_sequences(folder / name, min_length_bp=1)}
            for label, name in names.items()}


@pytest.mark.realdata
def test_sample_contigs_from_real_genomes(shared_data, tmp_path):
    folder = shared_data / "dna"
    genomes = {label: folder / name for label, name in REAL_SUBSET.items()}
    reads, gold = sample_contigs(genomes, tmp_path / "real.fa", n_per_genome=40, length_bp=(2_500, 10_000),
                                 substitution_rate=0.02, reverse_complement_fraction=0.5, seed=6)
    measured = _check_sources(reads, gold, _real_sources(folder, REAL_SUBSET))
    assert measured["substitution_rate"] == pytest.approx(0.02, abs=0.004)
    assert measured["reverse_fraction"] == pytest.approx(0.5, abs=0.12)
    rows = _gold_rows(gold)
    # gtdbtk_3 is a draft of 106 contigs: fragments come from many of its records.
    assert len({r["_RECORD"] for r in rows.values() if r["BINID"] == "gtdbtk_3"}) > 10


@pytest.mark.slow
@pytest.mark.realdata
def test_sample_contigs_from_every_real_genome(shared_data, tmp_path):
    folder = shared_data / "dna"
    manifest = list(csv.DictReader((folder / "MANIFEST.tsv").open(), delimiter="\t"))
    names = {row["genome_label"]: row["file"] for row in manifest}
    reads, gold = sample_contigs({k: folder / v for k, v in names.items()}, tmp_path / "all.fa.gz",
                                 n_per_genome=50, substitution_rate=0.05, seed=7)
    measured = _check_sources(reads, gold, _real_sources(folder, names))
    assert measured["substitution_rate"] == pytest.approx(0.05, abs=0.005)
    assert len(_gold_rows(gold)) == 50 * len(names)
