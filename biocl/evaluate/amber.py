"""Scores of a binning against a gold standard: ARI, the paper's matched F1 and AMBER's base-pair metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from biocl.data.dna.bins import UNBINNED

__all__ = ["BinMatch", "match_bins", "amber_metrics", "binning_ari", "RECOVERY_THRESHOLDS"]

#: (completeness above, contamination below) pairs of AMBER's "genomes recovered" table.
RECOVERY_THRESHOLDS: tuple[tuple[float, float], ...] = (
    (0.5, 0.10), (0.7, 0.10), (0.9, 0.10), (0.5, 0.05), (0.7, 0.05), (0.9, 0.05))


@dataclass
class BinMatch:
    """Bins matched one-to-one to species, with per-species scores on sequence counts.

    Attributes
    ----------
    species : list of str
        Every true species, sorted.
    matched_bin : list of int | None
        The bin matched to each species (``None``: no bin left for it).
    precision, recall, f1 : ndarray of shape (n_species,)
        Per species: sequences of the species in its matched bin over the bin's size
        (precision) and over all the species' sequences, unbinned included (recall).
    n_bins : int
        Bins (label -1 excluded).
    n_unbinned : int
        Sequences with label -1.
    n_f1_above_0_5, n_f1_above_0_9 : int
        Species with F1 strictly above 0.5 and 0.9 (the paper's binning counts).
    """

    species: list[str]
    matched_bin: list[int | None]
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    n_bins: int
    n_unbinned: int
    n_f1_above_0_5: int
    n_f1_above_0_9: int

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready numbers, with one row per species."""
        return {
            "n_species": len(self.species),
            "n_bins": self.n_bins,
            "n_unbinned": self.n_unbinned,
            "n_f1_above_0_5": self.n_f1_above_0_5,
            "n_f1_above_0_9": self.n_f1_above_0_9,
            "mean_f1": float(self.f1.mean()) if len(self.f1) else 0.0,
            "species": [{"species": s, "bin": b, "precision": float(p), "recall": float(r), "f1": float(f)}
                        for s, b, p, r, f in zip(self.species, self.matched_bin, self.precision, self.recall,
                                                 self.f1)],
        }


def _contingency(pred_bins: Sequence[int], true_labels: Sequence,
                 weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(bins, species, table over binned sequences, species totals over all sequences)."""
    bins = np.asarray(pred_bins).astype(np.int64)
    labels = np.asarray(true_labels).astype(str)
    if bins.shape != labels.shape or bins.ndim != 1:
        raise ValueError(f"need one bin per sequence: {bins.shape} bins, {labels.shape} labels")
    values = np.ones(len(bins)) if weights is None else np.asarray(weights, dtype=np.float64)
    species, species_index = np.unique(labels, return_inverse=True)
    binned = bins >= 0
    bin_ids, bin_index = np.unique(bins[binned], return_inverse=True)
    table = np.zeros((len(bin_ids), len(species)))
    np.add.at(table, (bin_index, species_index[binned]), values[binned])
    totals = np.bincount(species_index, weights=values, minlength=len(species))
    return bin_ids, species, table, totals


def match_bins(pred_bins: Sequence[int], true_labels: Sequence) -> BinMatch:
    """Match bins to species one-to-one (Hungarian) and score each species (the paper's binning score).

    The assignment maximises the number of correctly binned sequences
    (``scipy.optimize.linear_sum_assignment`` on the bins x species contingency table).
    Unlike the authors' script, which scored only binned sequences, unbinned sequences count
    as misses of their species (recall), so a binner cannot gain by leaving hard sequences out.

    Parameters
    ----------
    pred_bins : sequence of int
        Bin of each sequence, -1 = unbinned.
    true_labels : sequence
        Species (or genome) of each sequence.

    Returns
    -------
    match : BinMatch
    """
    from scipy.optimize import linear_sum_assignment

    bin_ids, species, table, totals = _contingency(pred_bins, true_labels)
    precision = np.zeros(len(species))
    recall = np.zeros(len(species))
    matched: list[int | None] = [None] * len(species)
    if table.size:
        bin_rows, species_cols = linear_sum_assignment(table, maximize=True)
        bin_sizes = table.sum(axis=1)
        for row, col in zip(bin_rows, species_cols):
            matched[col] = int(bin_ids[row])
            precision[col] = table[row, col] / bin_sizes[row]
            recall[col] = table[row, col] / totals[col]
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return BinMatch(species=species.tolist(), matched_bin=matched, precision=precision, recall=recall, f1=f1,
                    n_bins=len(bin_ids), n_unbinned=int((np.asarray(pred_bins) < 0).sum()),
                    n_f1_above_0_5=int((f1 > 0.5).sum()), n_f1_above_0_9=int((f1 > 0.9).sum()))


def amber_metrics(pred_bins: Sequence[int], true_labels: Sequence, lengths_bp: Sequence[int]) -> dict[str, Any]:
    """AMBER-style base-pair purity and completeness per bin, and genomes recovered.

    Each bin is mapped to the genome contributing most of its base pairs. Its purity is
    that genome's share of the bin's base pairs, its contamination ``1 - purity``, its
    completeness that genome's base pairs in the bin over the genome's base pairs in the
    whole sample (gold standard, unbinned sequences included). A genome is recovered at
    (c, x) when some bin mapped to it has completeness > c and contamination < x.

    Mean purity averages over bins; mean completeness averages over the gold standard's
    genomes, each by its most complete bin, a genome without a bin counting 0 (AMBER's
    convention): averaged over bins, a binner that recovers one genome perfectly and leaves
    every other unbinned would score a completeness of 1. Pass genome labels: "genomes
    recovered" counts distinct labels.

    Parameters
    ----------
    pred_bins : sequence of int
        Bin of each sequence, -1 = unbinned.
    true_labels : sequence
        Genome of each sequence.
    lengths_bp : sequence of int
        Length of each sequence in base pairs.

    Returns
    -------
    metrics : dict
        ``bins`` (one row per bin: ``bin, genome, size_bp, n_sequences, purity,
        completeness, contamination``), ``mean_purity`` and ``mean_completeness`` (over
        bins), ``mean_completeness_genomes`` (each genome's best bin, 0 without one),
        ``binned_bp_fraction``, ``n_genomes``, ``n_bins`` and ``recovered`` (rows
        ``completeness_gt, contamination_lt, n_genomes`` for :data:`RECOVERY_THRESHOLDS`).
    """
    lengths = np.asarray(lengths_bp, dtype=np.float64)
    if lengths.shape != np.asarray(pred_bins).shape:
        raise ValueError("need one length per sequence")
    bin_ids, genomes, table, totals = _contingency(pred_bins, true_labels, lengths)
    counts = _contingency(pred_bins, true_labels)[2]
    rows = []
    best_completeness = np.zeros(len(genomes))
    for row, bin_id in enumerate(bin_ids):
        genome = int(np.argmax(table[row]))
        size = table[row].sum()
        purity = table[row, genome] / size if size > 0 else 0.0
        completeness = table[row, genome] / totals[genome] if totals[genome] > 0 else 0.0
        best_completeness[genome] = max(best_completeness[genome], completeness)
        rows.append({"bin": int(bin_id), "genome": str(genomes[genome]), "size_bp": int(size),
                     "n_sequences": int(counts[row].sum()), "purity": float(purity),
                     "completeness": float(completeness), "contamination": float(1.0 - purity)})
    recovered = []
    for completeness_gt, contamination_lt in RECOVERY_THRESHOLDS:
        found = {r["genome"] for r in rows
                 if r["completeness"] > completeness_gt and r["contamination"] < contamination_lt}
        recovered.append({"completeness_gt": completeness_gt, "contamination_lt": contamination_lt,
                          "n_genomes": len(found)})
    return {
        "bins": rows,
        "n_bins": len(rows),
        "n_genomes": len(genomes),
        "mean_purity": float(np.mean([r["purity"] for r in rows])) if rows else 0.0,
        "mean_completeness": float(best_completeness.mean()) if len(genomes) else 0.0,
        "mean_completeness_genomes": float(best_completeness.mean()) if len(genomes) else 0.0,
        "mean_completeness_bins": float(np.mean([r["completeness"] for r in rows])) if rows else 0.0,
        "binned_bp_fraction": float(table.sum() / lengths.sum()) if lengths.sum() > 0 else 0.0,
        "recovered": recovered,
    }


def binning_ari(bins: Sequence[str], truth: Sequence[str]) -> float:
    """ARI of bins against the truth, each unbinned sequence counted as its own singleton bin.

    Parameters
    ----------
    bins : sequence of str
        Bin name of each sequence, :data:`biocl.data.dna.bins.UNBINNED` for an unbinned one.
    truth : sequence of str
        True genome or species of each sequence.
    """
    from sklearn.metrics import adjusted_rand_score

    labels = [b if b != UNBINNED else f"{UNBINNED}:{i}" for i, b in enumerate(bins)]
    return float(adjusted_rand_score(list(truth), labels))
