"""Hungarian-matched per-species F1 and AMBER base-pair metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from biocl.evaluate.binning import amber_metrics, match_bins

# Sequences 0-8: species A x4, B x3, C x2. Bin 0 holds A A A C, bin 1 A B B, bin 2 C;
# sequence 6 (B) is unbinned.
BINS = [0, 0, 0, 1, 1, 1, -1, 2, 0]
TRUTH = ["A", "A", "A", "A", "B", "B", "B", "C", "C"]
LENGTHS = [100, 100, 100, 50, 200, 200, 100, 300, 100]


def test_match_bins_hand_computed():
    match = match_bins(BINS, TRUTH)
    # Hungarian: bin 0 -> A (3 right), bin 1 -> B (2), bin 2 -> C (1): 6 sequences right.
    assert match.species == ["A", "B", "C"]
    assert match.matched_bin == [0, 1, 2]
    np.testing.assert_allclose(match.precision, [3 / 4, 2 / 3, 1.0])
    # The unbinned B counts as a miss: recall 2/3, not 2/2.
    np.testing.assert_allclose(match.recall, [3 / 4, 2 / 3, 1 / 2])
    np.testing.assert_allclose(match.f1, [0.75, 2 / 3, 2 / 3])
    assert (match.n_f1_above_0_5, match.n_f1_above_0_9) == (3, 0)
    assert (match.n_bins, match.n_unbinned) == (3, 1)
    summary = match.as_dict()
    assert summary["mean_f1"] == pytest.approx((0.75 + 2 / 3 + 2 / 3) / 3)
    assert summary["species"][1] == {"species": "B", "bin": 1, "precision": pytest.approx(2 / 3),
                                     "recall": pytest.approx(2 / 3), "f1": pytest.approx(2 / 3)}


def test_match_bins_more_species_than_bins_and_nothing_binned():
    match = match_bins([0, 0, 0, 0], ["A", "A", "B", "C"])
    assert match.matched_bin == [0, None, None]
    np.testing.assert_allclose(match.f1, [2 * 0.5 * 1 / 1.5, 0, 0])
    empty = match_bins([-1, -1], ["A", "B"])
    assert empty.n_bins == 0 and empty.n_unbinned == 2 and not empty.f1.any()


def test_match_bins_perfect_and_label_permutation_invariant():
    truth = ["x"] * 5 + ["y"] * 5
    assert match_bins([7] * 5 + [3] * 5, truth).n_f1_above_0_9 == 2
    with pytest.raises(ValueError, match="one bin per sequence"):
        match_bins([0, 1], ["x"])


def test_amber_metrics_hand_computed():
    metrics = amber_metrics(BINS, TRUTH, LENGTHS)
    # Genome totals: A 350 bp, B 500 bp, C 400 bp.
    rows = {row["bin"]: row for row in metrics["bins"]}
    assert rows[0]["genome"] == "A" and rows[0]["size_bp"] == 400 and rows[0]["n_sequences"] == 4
    assert rows[0]["purity"] == pytest.approx(300 / 400)
    assert rows[0]["completeness"] == pytest.approx(300 / 350)
    assert rows[1]["genome"] == "B"
    assert rows[1]["purity"] == pytest.approx(400 / 450)
    assert rows[1]["contamination"] == pytest.approx(50 / 450)
    assert rows[1]["completeness"] == pytest.approx(400 / 500)
    assert rows[2] == {"bin": 2, "genome": "C", "size_bp": 300, "n_sequences": 1, "purity": 1.0,
                       "completeness": pytest.approx(0.75), "contamination": 0.0}
    assert metrics["mean_purity"] == pytest.approx((0.75 + 400 / 450 + 1.0) / 3)
    assert metrics["mean_completeness"] == pytest.approx((300 / 350 + 0.8 + 0.75) / 3)
    assert metrics["mean_completeness_bins"] == pytest.approx((300 / 350 + 0.8 + 0.75) / 3)
    assert metrics["mean_completeness_genomes"] == pytest.approx((300 / 350 + 0.8 + 0.75) / 3)
    assert metrics["binned_bp_fraction"] == pytest.approx(1150 / 1250)
    recovered = {(r["completeness_gt"], r["contamination_lt"]): r["n_genomes"] for r in metrics["recovered"]}
    # Only C's bin is under 10 % contamination (B's has 11 %); its completeness is 75 %.
    assert recovered == {(0.5, 0.10): 1, (0.7, 0.10): 1, (0.9, 0.10): 0,
                         (0.5, 0.05): 1, (0.7, 0.05): 1, (0.9, 0.05): 0}
    assert (metrics["n_bins"], metrics["n_genomes"]) == (3, 3)


def test_amber_metrics_counts_genomes_without_bins_as_zero():
    metrics = amber_metrics([0, 0, -1], ["A", "A", "B"], [10, 10, 10])
    assert metrics["mean_completeness_genomes"] == pytest.approx(0.5)
    # Issue #12: the headline mean completeness averages over gold genomes (B unrecovered
    # counts 0), not over bins (which gave 1.0 here).
    assert metrics["mean_completeness"] == pytest.approx(0.5)
    assert metrics["mean_completeness_bins"] == pytest.approx(1.0)
    # Two bins of one genome: the genome counts once, by its most complete bin.
    split = amber_metrics([0, 1, -1, -1], ["A", "A", "A", "B"], [10, 20, 10, 40])
    assert split["mean_completeness"] == pytest.approx((20 / 40 + 0) / 2)
    assert metrics["recovered"][2]["n_genomes"] == 1
    with pytest.raises(ValueError, match="one length"):
        amber_metrics([0], ["A"], [1, 2])


def test_binning_ari_counts_each_unbinned_sequence_as_its_own_bin():
    from sklearn.metrics import adjusted_rand_score

    from biocl.evaluate.amber import binning_ari

    bins = ["bin.1", "bin.1", "unbinned", "unbinned", "bin.2"]
    truth = ["A", "A", "B", "B", "B"]
    # The two unbinned B sequences are two singletons, not one shared "unbinned" bin.
    assert binning_ari(bins, truth) == pytest.approx(adjusted_rand_score(truth, [0, 0, 1, 2, 3]))
    assert binning_ari(bins, truth) < adjusted_rand_score(truth, [0, 0, 1, 1, 2])
