"""The metagenome simulator: complete contigs, realistic lengths, BAMs whose depth follows the abundances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biocl.data.dna.coverage import bam_depths
from biocl.data.dna.fasta import SequenceRecord, read_gold_standard, read_sequences, write_fasta
from biocl.data.dna.simulate_metagenome import cut_contigs, simulate_metagenome

pytest.importorskip("pysam")


def test_cut_contigs_covers_the_sequence_without_short_pieces() -> None:
    rng = np.random.default_rng(0)
    pieces = cut_contigs("A" * 1_000_000, rng)
    lengths = np.array([e - s for s, e in pieces])
    assert pieces[0][0] == 0 and pieces[-1][1] == 1_000_000
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    assert lengths.min() >= 2_000
    assert 6_000 < np.median(lengths) < 10_000
    assert cut_contigs("A" * 1_999, rng) == []


def _tiny_genomes(folder: Path, n: int = 3, length_bp: int = 60_000) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    out = {}
    for g in range(n):
        seq = "".join(rng.choice(list("ACGT"), size=length_bp))
        out[f"g{g}"] = write_fasta(folder / f"g{g}.fa", [SequenceRecord(f"chr{g}", seq, length_bp)])
    return out


def test_simulated_metagenome_is_complete_and_its_depths_follow_the_abundances(tmp_path: Path) -> None:
    genomes = _tiny_genomes(tmp_path)
    meta = simulate_metagenome(genomes, tmp_path / "meta", species={"g0": "sp", "g1": "sp"}, n_samples=3,
                               mean_depth=8.0, seed=3)
    records = list(read_sequences(meta.contigs, min_length_bp=0))
    gold = read_gold_standard(meta.gold_genome)
    species = read_gold_standard(meta.gold_species)
    assert [r.id for r in records] == list(gold)
    assert sum(r.length_bp for r in records) == 3 * 60_000          # cut completely
    assert min(r.length_bp for r in records) >= 2_000
    assert set(species.values()) == {"sp", "g2"}
    coverage = bam_depths(meta.bams, {r.id: r.length_bp for r in records})
    table = [line.split("\t") for line in meta.abundances.read_text().splitlines()[1:]]
    truth = {row[0]: np.array(row[2:], dtype=float) for row in table}
    expected = np.array([truth[gold[r.id]] for r in records])
    # Reads start uniformly, so the trimmed mean depth is close to the genome's depth.
    ratio = coverage.depth.sum(axis=0) / expected.sum(axis=0)
    np.testing.assert_allclose(ratio, 1.0, atol=0.1)


@pytest.mark.realdata
def test_simulator_on_real_genomes(tmp_path: Path, shared_data: Path) -> None:
    files = {"mt_human": shared_data / "dna" / "minimap2_MT-human.fa.gz",
             "kutzneria": shared_data / "dna" / "KK037166_kutzneria.fna.gz",
             "l_plantarum": shared_data / "dna" / "quast_meta_ref_1.fasta.gz"}
    if not all(p.is_file() for p in files.values()):
        pytest.skip("shared genomes absent")
    meta = simulate_metagenome(files, tmp_path / "meta", n_samples=2, mean_depth=3.0, seed=0)
    total = sum(len(r.seq) for p in files.values() for r in read_sequences(p, min_length_bp=0))
    assert meta.summary["total_bp"] + meta.summary["dropped_bp"] == total
    assert all(b.is_file() and b.with_suffix(".bam.bai").is_file() for b in meta.bams)


def test_substitutions_always_change_the_base_and_are_counted() -> None:
    from biocl.data.dna.simulate_metagenome import _mutate

    rng = np.random.default_rng(0)
    reads = np.frombuffer(b"ACGT" * 250, dtype=np.uint8).reshape(10, 100)
    mutated, edits = _mutate(reads, 0.1, rng)
    assert (mutated != reads).sum(axis=1).tolist() == edits.tolist() and edits.sum() > 0
    assert set(np.unique(mutated).tobytes()) <= set(b"ACGT")


def test_scaffold_gaps_end_contigs(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    left, right = ("".join(rng.choice(list("ACGT"), size=n)) for n in (30_000, 25_000))
    seq = left + "N" * 100 + right
    genome = write_fasta(tmp_path / "g.fa", [SequenceRecord("scaffold", seq, len(seq))])
    meta = simulate_metagenome({"g": genome}, tmp_path / "meta", n_samples=1, mean_depth=1.0, seed=0)
    records = list(read_sequences(meta.contigs, min_length_bp=0))
    assert all("N" not in r.seq for r in records)
    assert meta.summary["total_bp"] == 55_000 and meta.summary["dropped_bp"] == 100
