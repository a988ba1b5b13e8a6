"""The dna_species pipeline: splits, pairs, C2LR steps, the ARI decomposition, and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import adjusted_rand_score

from biocl.encoders.dna import DnaConvEncoder
from biocl.utils.errors import BioclError
from biocl.pipelines import run_protocol
from biocl.pipelines.dna_species.scoring import ari_contributions
from biocl.pipelines.dna_species.pipeline import split_species
from biocl.pipelines.dna_species.training import ContrastiveDnaModel, PairBatches, phase_step
from biocl.protocols.base import load_protocol

REPO = Path(__file__).resolve().parents[2]


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


def test_species_split_is_disjoint_deterministic_and_checked() -> None:
    species = [f"sp{i:02d}" for i in range(12)]
    split = split_species(species, n_calibration=2, n_eval=3, seed=7)
    assert split == split_species(species, n_calibration=2, n_eval=3, seed=7)
    assert len(split["eval"]) == 3 and len(split["calibration"]) == 2 and len(split["train"]) == 7
    assert set().union(*map(set, split.values())) == set(species)
    assert not (set(split["eval"]) & set(split["train"])) and not (set(split["calibration"]) & set(split["train"]))
    with pytest.raises(BioclError, match="species"):
        split_species(species[:5], n_calibration=2, n_eval=3, seed=0)


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


def _tiny_protocol(folder: Path) -> Path:
    raw = yaml.safe_load((REPO / "protocols" / "dna_species_quick.yaml").read_text())
    raw["data"].update(n_species=6, strains_per_species=2, genome_bp=20_000, n_calibration_species=2,
                       n_eval_species=2, contigs_per_genome=14, contig_length_bp=[2_500, 3_500], segment_bp=600)
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
    endpoint = results["primary_endpoint"]
    assert endpoint["metric"] == "ari" and endpoint["n_units"] == len(endpoint["unit_ids"]) > 0
    assert np.isclose(np.mean(endpoint["unit_values"]), results["metrics"]["ari"])
    assert results["disjointness"]["asserted"] is True and results["data"]["simulated"] is True
    kinds = {figure["kind"] for figure in results["figures"]}
    assert {"heatmap", "scatter", "bar", "grouped_bar", "curve"} <= kinds
    assert results["subgroups"][0]["rows"] and results["worst_cases"]
    assert len(results["checkpoint"]["sha256"]) == 64 and Path(results["checkpoint"]["path"]).is_file()
    assert 0 < results["permutation_test"]["p_value"] <= 1
    assert results["device"] == "cpu" and results["model"]["parameters"] > 0

    # Same seed, same numbers.
    _, again = run_protocol(protocol, tmp_path / "again", report=False)
    assert again["metrics"] == results["metrics"]


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
