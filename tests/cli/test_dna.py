"""`biocl dna embed|bin|evaluate|train` and `biocl simulate dna`, through the real entry point."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from biocl.data.dna.fasta import read_gold_standard, read_sequences
from biocl_cli.main import main
from biocl_cli.output import state


@pytest.fixture(autouse=True)
def _fresh_output_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """The global --json/--quiet flags live on a module object; each test starts without them."""
    monkeypatch.setattr(state, "json", False)
    monkeypatch.setattr(state, "quiet", False)
    monkeypatch.setattr(state, "debug", False)


def _run_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    code = main(["--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Contigs of 4 simulated genomes (12 each, 2.5-4 kb) and their gold standard."""
    from biocl.data.dna.simulate import sample_contigs, simulate_genomes

    folder = tmp_path_factory.mktemp("dna_cli")
    genomes = simulate_genomes(folder / "genomes", n_species=4, strains_per_species=1, genome_bp=30_000, seed=3)
    return sample_contigs(genomes.genomes, folder / "contigs.fa", n_per_genome=12, length_bp=(2_500, 4_000), seed=3)


def _bin_members(out: Path) -> list[str]:
    ids = []
    for fasta in sorted((out / "bins").glob("bin.*.fa")) + [out / "unbinned.fa"]:
        if fasta.stat().st_size:
            ids += [r.id for r in read_sequences(fasta, min_length_bp=0)]
    return ids


def test_simulate_dna_writes_genomes_contigs_and_gold(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    doc = _run_json(capsys, "simulate", "dna", "--out", str(tmp_path), "--species", "3", "--strains", "1",
                    "--genome-bp", "20000", "--contigs-per-genome", "5", "--substitution-rate", "0.01")
    assert doc["genomes"] == 3 and doc["simulated_genomes"]
    gold = read_gold_standard(doc["gold_standard"])
    assert len(gold) == 15 and Path(doc["manifest"]).is_file()


def test_simulate_dna_from_given_genomes_as_fastq(tmp_path: Path, small_sample: tuple[Path, Path],
                                                  capsys: pytest.CaptureFixture) -> None:
    genome = sorted((small_sample[0].parent / "genomes").glob("*.fa"))[0]
    doc = _run_json(capsys, "simulate", "dna", "--out", str(tmp_path), "--genome", str(genome),
                    "--contigs-per-genome", "4", "--min-bp", "3000", "--max-bp", "3000", "--fastq")
    records = list(read_sequences(doc["contigs"], min_length_bp=0))
    assert len(records) == 4 and all(r.length_bp == 3000 for r in records)


def test_bin_with_tnf_lists_every_sequence_exactly_once(tmp_path: Path, small_sample: tuple[Path, Path],
                                                         capsys: pytest.CaptureFixture) -> None:
    contigs, gold = small_sample
    doc = _run_json(capsys, "dna", "bin", str(contigs), "--out", str(tmp_path), "--features", "tnf",
                    "--min-bin-size", "3", "--min-length", "3000")
    inputs = [r.id for r in read_sequences(contigs, min_length_bp=0)]
    members = _bin_members(tmp_path)
    assert sorted(members) == sorted(inputs)
    with open(tmp_path / "clusters.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["sequence_id"] for r in rows] == inputs
    assert doc["n_binned"] + doc["n_unbinned"] == len(inputs) and doc["n_too_short"] > 0
    unbinned = (tmp_path / "unbinned.tsv").read_text().splitlines()[1:]
    assert len(unbinned) == doc["n_unbinned"] and any(line.endswith("too_short") for line in unbinned)
    bioboxes = read_gold_standard(tmp_path / "bins.binning")
    assert len(bioboxes) == doc["n_binned"]

    scored = _run_json(capsys, "dna", "evaluate", str(tmp_path), "--truth", str(gold))
    assert scored["n_sequences"] == len(inputs) and -1 <= scored["ari"] <= 1
    assert 0 <= scored["amber"]["mean_purity"] <= 1


def test_train_embed_and_bin_with_a_self_trained_encoder(tmp_path: Path, small_sample: tuple[Path, Path],
                                                          capsys: pytest.CaptureFixture) -> None:
    contigs, gold = small_sample
    model = tmp_path / "enc.safetensors"
    trained = _run_json(capsys, "dna", "train", str(contigs), "--out", str(model), "--steps", "2",
                        "--mimix-steps", "1", "--batch-size", "4", "--segment-bp", "500", "--device", "cpu")
    assert model.is_file() and len(trained["sha256"]) == 64

    embedded = _run_json(capsys, "dna", "embed", str(contigs), "--model", str(model), "--out",
                         str(tmp_path / "emb.npy"), "--device", "cpu")
    matrix = np.load(tmp_path / "emb.npy")
    ids = (tmp_path / "emb.ids.txt").read_text().split()
    assert ids == [r.id for r in read_sequences(contigs, min_length_bp=0)]
    assert matrix.shape == (len(ids), embedded["dim"]) and np.isfinite(matrix).all()

    out = tmp_path / "bins"
    doc = _run_json(capsys, "dna", "bin", str(contigs), "--out", str(out), "--steps", "2", "--batch-size", "4",
                    "--segment-bp", "500", "--min-bin-size", "3", "--binner", "kmedoid", "--device", "cpu")
    assert sorted(_bin_members(out)) == sorted(ids) and doc["features"] == "learned"


@pytest.mark.parametrize("content, message", [
    (b"this is not a sequence file\n", "FASTA"),
    (b"", "empty"),
    (b">a\nACGT\n>b\nACG\n", "shorter than"),
    (b">a\nACGT123ACGT\n", "IUPAC"),
    (b">a\nACGTACGT\n>a\nACGTACGT\n", "duplicate"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture, content: bytes,
                                          message: str) -> None:
    bad = tmp_path / "bad.fa"
    bad.write_bytes(content)
    code = main(["dna", "bin", str(bad), "--out", str(tmp_path / "out"), "--features", "tnf"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and "\n" not in err and str(bad) in err
    assert message.lower() in err.lower()


def test_missing_model_path_is_a_user_error(tmp_path: Path, small_sample: tuple[Path, Path],
                                            capsys: pytest.CaptureFixture) -> None:
    code = main(["dna", "embed", str(small_sample[0]), "--model", str(tmp_path / "nothing"),
                 "--out", str(tmp_path / "e.npy")])
    assert code == 2 and "model not found" in capsys.readouterr().err


@pytest.mark.slow
def test_self_trained_bins_beat_canonical_tnf_on_real_genomes(tmp_path: Path, shared_data: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    """Contigs (half reverse-complemented) of the 13 real genomes, binned without any pretrained model."""
    from biocl.data.dna.simulate import sample_contigs

    folder = shared_data / "dna"
    with open(folder / "MANIFEST.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    genomes = {r["genome_label"]: folder / r["file"] for r in rows}
    # The three E. coli genomes are strains of one species: a species-level truth merges them.
    species = {label: "e_coli" if label.startswith("e_coli") else label for label in genomes}
    contigs, gold = sample_contigs(genomes, tmp_path / "contigs.fa", n_per_genome=30,
                                   reverse_complement_fraction=0.5, seed=0)
    truth = tmp_path / "species.tsv"
    truth.write_text("".join(f"{i}\t{species[g]}\n" for i, g in read_gold_standard(gold).items()))
    strands = [line.split("\t")[-1].strip() for line in gold.read_text().splitlines() if line.startswith("contig")]
    assert 0.35 < strands.count("-") / len(strands) < 0.65

    # The self-trained encoder is trained once and reused (--steps 0) for the second threshold rule.
    model = tmp_path / "self_trained.safetensors"
    runs = {("tnf", "silhouette"): ["--features", "tnf"],
            ("tnf", "halves"): ["--features", "tnf", "--calibration", "halves"],
            ("learned", "silhouette"): ["--save-model", str(model)],
            ("learned", "halves"): ["--model", str(model), "--steps", "0", "--calibration", "halves"]}
    scores = {}
    for (features, rule), args in runs.items():
        out = tmp_path / f"{features}_{rule}"
        _run_json(capsys, "dna", "bin", str(contigs), "--out", str(out), *args, "--min-bin-size", "5",
                  "--device", "cpu")
        score = _run_json(capsys, "dna", "evaluate", str(out), "--truth", str(truth))
        scores[features, rule] = {"ari": round(score["ari"], 3), "mean_f1": round(score["match"]["mean_f1"], 3),
                                  "f1>0.5": score["match"]["n_f1_above_0_5"], "f1>0.9": score["match"]["n_f1_above_0_9"]}
    with capsys.disabled():
        print("\nreal genomes (11 species, 30 contigs per genome): features | threshold | ARI | mean F1 | "
              "species F1 > 0.5 | > 0.9")
        for (features, rule), score in scores.items():
            print(f"| {features} | {rule} | {score['ari']} | {score['mean_f1']} | {score['f1>0.5']} | "
                  f"{score['f1>0.9']} |")
    best_tnf = max(scores["tnf", rule]["ari"] for rule in ("silhouette", "halves"))
    assert scores["learned", "silhouette"]["ari"] > best_tnf, scores


def test_gzip_input_is_read(tmp_path: Path, small_sample: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    packed = tmp_path / "contigs.fa.gz"
    packed.write_bytes(gzip.compress(small_sample[0].read_bytes()))
    doc = _run_json(capsys, "dna", "bin", str(packed), "--out", str(tmp_path / "out"), "--features", "tnf",
                    "--min-bin-size", "3")
    assert doc["n_sequences"] == 48


@pytest.mark.parametrize("table, message", [
    ("name\tdepth\n", "unrecognised depth-table header"),
    ("contigname\tS1\nnot_a_contig\t1.0\n", "has no coverage"),
])
def test_bad_coverage_is_one_line_and_exit_2(tmp_path: Path, small_sample: tuple[Path, Path],
                                             capsys: pytest.CaptureFixture, table: str, message: str) -> None:
    path = tmp_path / "depth.tsv"
    path.write_text(table)
    code = main(["dna", "bin", str(small_sample[0]), "--out", str(tmp_path / "out"), "--features", "tnf",
                 "--abundance", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and "\n" not in err and message in err
    assert not (tmp_path / "out" / "clusters.tsv").exists()


def test_bin_and_embed_take_bams_and_simulate_metagenome(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("pysam")
    from biocl.data.dna.simulate import simulate_genomes

    genomes = simulate_genomes(tmp_path / "g", n_species=2, strains_per_species=1, genome_bp=30_000, seed=1)
    sim = _run_json(capsys, "simulate", "metagenome", *map(str, genomes.genomes.values()), "--samples", "2",
                    "--out", str(tmp_path / "m"), "--depth", "4")
    assert sim["samples"] == 2 and sim["min_contig_bp"] >= 2_000
    bams = [arg for b in sim["bams"] for arg in ("--bam", b)]
    contigs = str(tmp_path / "m" / "contigs.fa")
    binned = _run_json(capsys, "dna", "bin", contigs, "--out", str(tmp_path / "out"), "--features", "tnf", *bams,
                       "--min-bin-size", "2", "--min-length", "2000", "--threads", "1", "--min-fasta", "5000")
    assert binned["coverage"]["samples"] == ["S1", "S2"] and binned["threads"] == 1
    embedded = _run_json(capsys, "dna", "embed", contigs, "--steps", "0", "--window-bp", "2000", *bams,
                         "--out", str(tmp_path / "e.npy"))
    assert embedded["coverage"]["source"] == "bam" and embedded["dim"] > 128
    empty = tmp_path / "empty.bam"
    import pysam

    with pysam.AlignmentFile(sim["bams"][0]) as source, pysam.AlignmentFile(str(empty), "wb",
                                                                           template=source):
        pass
    code = main(["dna", "bin", contigs, "--out", str(tmp_path / "o2"), "--features", "tnf", "--bam", str(empty)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no alignments" in err and "\n" not in err
