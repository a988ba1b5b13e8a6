"""The dna_species pipeline: the species split, and a tiny end-to-end run (metrics, details, determinism)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from biocl.pipelines import run_protocol
from biocl.pipelines.dna_species.pipeline import split_species
from biocl.protocols.base import load_protocol
from biocl.utils.errors import BioclError

REPO = Path(__file__).resolve().parents[3]


def test_species_split_is_disjoint_deterministic_and_checked() -> None:
    species = [f"sp{i:02d}" for i in range(12)]
    split = split_species(species, n_calibration=2, n_eval=3, seed=7)
    assert split == split_species(species, n_calibration=2, n_eval=3, seed=7)
    assert len(split["eval"]) == 3 and len(split["calibration"]) == 2 and len(split["train"]) == 7
    assert set().union(*map(set, split.values())) == set(species)
    assert not (set(split["eval"]) & set(split["train"])) and not (set(split["calibration"]) & set(split["train"]))
    with pytest.raises(BioclError, match="species"):
        split_species(species[:5], n_calibration=2, n_eval=3, seed=0)


def test_validation_species_are_apart_and_leave_test_species_unchanged() -> None:
    species = [f"sp{i:02d}" for i in range(12)]
    plain = split_species(species, n_calibration=2, n_eval=3, seed=7)
    split = split_species(species, n_calibration=2, n_eval=3, seed=7, n_validation=3)
    assert split["eval"] == plain["eval"] and split["calibration"] == plain["calibration"]
    assert len(split["validation"]) == 3 and len(split["train"]) == 4
    names = list(split)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not set(split[a]) & set(split[b]), (a, b)
    with pytest.raises(BioclError, match="validation"):
        split_species(species, n_calibration=2, n_eval=3, seed=7, n_validation=6)


def _tiny_protocol(folder: Path) -> Path:
    raw = yaml.safe_load((REPO / "protocols" / "dna_species_quick.yaml").read_text())
    raw["data"].update(n_species=8, strains_per_species=2, genome_bp=20_000, n_calibration_species=2,
                       n_eval_species=2, n_validation_species=2, validation_contigs_per_genome=6,
                       contigs_per_genome=14, contig_length_bp=[2_500, 3_500], segment_bp=600)
    raw["model"].update(k=3, dim=8, n_blocks=2, downsample=4, head_out_dim=8)
    raw["train"].update(batch_size=2, threads=1, device="cpu")
    raw["train"]["phases"] = [
        {"name": "weighted_simclr", "epochs": 1, "loss": "weighted_infonce", "init_from": "none",
         "max_steps_per_epoch": 2},
        {"name": "mimix", "epochs": 1, "loss": "mimix", "init_from": "previous", "max_steps_per_epoch": 2}]
    raw["evaluate"].update(shots=[1, 2], n_test=10, kmeans_seeds=2, few_shot_seeds=2, min_bin_size=3,
                           graph_k=10, n_permutations=20)
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_tiny_run_reports_every_metric_baseline_and_detail(tmp_path: Path) -> None:
    protocol = load_protocol(_tiny_protocol(tmp_path))
    run_dir, results = run_protocol(protocol, tmp_path / "run", report=False)
    assert json.loads((run_dir / "results.json").read_text())["metrics"] == results["metrics"]
    for key in ("ari", "few_shot_f1_k1", "few_shot_f1_k2", "kmedoid_n_f1_above_0_5", "kmedoid_n_f1_above_0_9",
                "graph_n_f1_above_0_5", "graph_n_f1_above_0_9", "binning_threshold", "kmedoid_mean_purity_bp"):
        assert key in results["metrics"]
        for baseline in ("tnf", "canonical_tnf", "tnf_kernel"):
            assert key in results["baselines"][baseline]
    # Each feature baseline's ARI has an interval over the test species, as the model's has.
    for baseline in ("tnf", "canonical_tnf", "tnf_kernel"):
        low, high = results["metric_intervals"][baseline]["ari"]
        # (Two species here: every resample may give the full data's ARI, up to rounding.)
        assert low - 1e-12 <= results["baselines"][baseline]["ari"] <= high + 1e-12
    endpoint = results["primary_endpoint"]
    assert endpoint["metric"] == "ari" and endpoint["n_units"] == len(endpoint["unit_ids"]) > 0
    # The CI resamples the test species (two here), not the contigs.
    assert endpoint["unit"] == "species" and sorted(endpoint["unit_ids"]) == sorted(set(results["subgroups"][0][
        "rows"][i]["group"] for i in range(len(results["subgroups"][0]["rows"]))))
    assert endpoint["ci_method"].startswith("cluster bootstrap over 2 species") and "jackknife" in endpoint["ci_method"]
    assert np.isclose(np.average(endpoint["unit_values"], weights=endpoint["unit_weights"]), results["metrics"]["ari"])
    assert set(results["ari_intervals"]) == {"species_bootstrap", "species_jackknife", "sequence_bootstrap"}
    # Every epoch was scored on the validation species, which chose each phase's best weights.
    assert [row["phase"] for row in results["validation"]["epochs"]] == ["weighted_simclr", "mimix"]
    assert results["data"]["scored_split"] == "test"
    assert any(row["stage"] == "validation species" and row["count"] == 2 for row in results["flow"])
    assert results["disjointness"]["asserted"] is True and results["data"]["simulated"] is True
    kinds = {figure["kind"] for figure in results["figures"]}
    assert {"heatmap", "scatter", "bar", "grouped_bar", "curve"} <= kinds
    assert results["subgroups"][0]["rows"] and results["worst_cases"]
    assert len(results["checkpoint"]["sha256"]) == 64 and Path(results["checkpoint"]["path"]).is_file()
    assert 0 < results["permutation_test"]["p_value"] <= 1
    assert results["device"] == "cpu" and results["model"]["parameters"] > 0
    _check_quality_calibration_and_worst_cases(results, run_dir / "data" / "eval_contigs.fa")

    # Same seed, same numbers.
    _, again = run_protocol(protocol, tmp_path / "again", report=False)
    assert again["metrics"] == results["metrics"]


def test_validation_split_scores_validation_species_and_never_samples_test_ones(tmp_path: Path) -> None:
    raw = yaml.safe_load(_tiny_protocol(tmp_path).read_text())
    raw["evaluate"]["split"] = "validation"
    raw["evaluate"]["baselines"] = ["canonical_tnf"]
    # Fewer monitoring contigs than the largest few-shot size: the scored set must still have enough.
    raw["data"]["validation_contigs_per_genome"] = 2
    raw["evaluate"]["shots"] = [1, 5]
    path = tmp_path / "validation.yaml"
    path.write_text(yaml.safe_dump(raw))
    run_dir, results = run_protocol(load_protocol(path), tmp_path / "run", report=False)
    assert results["data"]["scored_split"] == "validation"
    assert not list((run_dir / "data").glob("eval_contigs*"))
    assert "few_shot_f1_k5" in results["metrics"]
    assert sum(1 for r in results["subgroups"][0]["rows"]) == 2
    assert any(row["stage"] == "validation (scored) species" for row in results["flow"])

    raw["data"]["n_validation_species"] = 0
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(BioclError, match="validation species"):
        run_protocol(load_protocol(path), tmp_path / "refused", report=False)


def test_same_seed_gives_the_same_checkpoint_bytes(tmp_path: Path) -> None:
    protocol = load_protocol(_tiny_protocol(tmp_path))
    _, first = run_protocol(protocol, tmp_path / "first", report=False)
    _, again = run_protocol(protocol, tmp_path / "again", report=False)
    assert again["checkpoint"]["sha256"] == first["checkpoint"]["sha256"]


def test_protocols_validate() -> None:
    quick = load_protocol(REPO / "protocols" / "dna_species_quick.yaml")
    assert quick.pipeline == "dna_species" and quick.acceptance.metric == "ari"
    paper = load_protocol(REPO / "protocols" / "dna_species_paper.yaml")
    assert paper.model.encoder == "pretrained" and paper.loss.tau == 0.05 and paper.train.batch_size == 48
    assert paper.model.trust_remote_code is False


def _check_quality_calibration_and_worst_cases(results: dict, contigs_fasta: Path) -> None:
    """Data quality of the test contigs as sampled, calibration said not to apply, worst species with contigs."""
    counts = results["data_quality"]["counts"]
    # Two test species x two strains x 14 contigs of 2.5-3.5 kb.
    assert counts["n_sequences"] == 56 and counts["n_species"] == 2
    assert 2_500 <= counts["min_length_bp"] <= counts["n50_bp"] <= counts["max_length_bp"] <= 3_500
    assert 0.0 < counts["gc_mean"] < 1.0
    lengths, gc = results["data_quality"]["figures"]
    assert len(lengths["values"]) == 56 and all(0.0 <= v <= 1.0 for v in gc["values"])
    assert results["calibration"].startswith("not applicable: ")
    headers = {line[1:].split()[0] for line in contigs_fasta.read_text().splitlines() if line.startswith(">")}
    for case in results["worst_cases"]:
        assert case["metric"].startswith("binning F1") and case["higher_is_better"] is True
        assert case["species"] == case["id"] and 0.0 <= case["value"] <= 1.0
        listed = (case["contig"] or "").split(" (+")[0]
        # Each listed contig is a record of the test contig FASTA a reader can look up.
        assert not listed or set(listed.split(", ")) <= headers


def test_worst_species_list_the_contigs_outside_their_matched_bin() -> None:
    from biocl.data.dna.fasta import SequenceRecord
    from biocl.evaluate.amber import match_bins
    from biocl.pipelines.dna_species.quality import worst_species

    species = ["a"] * 4 + ["b"] * 4
    bins = np.array([0, 0, 0, 1, 1, 1, 1, -1])
    records = [SequenceRecord(id=f"contig_{i}", seq="ACGT", length_bp=4) for i in range(8)]
    cases = worst_species(match_bins(bins, species), bins, {"records": records, "species": species})
    by_species = {case["species"]: case for case in cases}
    # a: bin 0 holds 3 of its 4 contigs (contig_3 went to b's bin); b: bin 1 holds 3 of 4 (contig_7 unbinned).
    assert by_species["a"]["contig"] == "contig_3" and by_species["b"]["contig"] == "contig_7"
    assert [case["value"] for case in cases] == sorted(case["value"] for case in cases)
    assert all(case["higher_is_better"] is True and "outside its matched bin" in case["detail"] for case in cases)
