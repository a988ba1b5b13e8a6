"""Report material of a ``dna_species`` run beside the scores: data quality, calibration, worst species.

Data quality is measured on the scored contigs as read, before training
(:func:`biocl.pipelines.dna_binning.quality.sequence_quality`). Calibration does not apply to
the clusters and bins; the few-shot logistic regression's probabilities are not kept
(:func:`biocl.evaluate.clustering.few_shot_f1` returns macro-F1 only), and the string says so. The worst cases are
the species binned worst, each with the contigs a reader can look up in the contig FASTA.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biocl.pipelines.dna_binning.quality import sequence_quality

__all__ = ["contig_quality", "CALIBRATION_NOT_APPLICABLE", "WORST_CASE_METRIC", "worst_species"]

CALIBRATION_NOT_APPLICABLE = ("not applicable: the primary endpoint and the binning are clusters and bins (K-means, "
                              "K-medoid, kNN graph) of embedding similarities, not probabilities. The few-shot "
                              "logistic regression (a secondary metric) has probabilities, but only its macro-F1 "
                              "is kept, so its calibration is not measured")
WORST_CASE_METRIC = "binning F1 of the species (K-medoid bins, trained encoder)"
_MAX_CONTIGS_LISTED = 3


def contig_quality(eval_set: dict[str, Any], *, what: str = "test contigs") -> dict[str, Any]:
    """Length and GC distributions and counts of a contig set's sequences (``results["data_quality"]``).

    Parameters
    ----------
    eval_set : dict
        A contig set of the pipeline (``records``: the sequences as read; ``species``).
    what : str
        What the contigs are, for the titles.

    Returns
    -------
    dict
        As :func:`~biocl.pipelines.dna_binning.quality.sequence_quality`, with the number of
        species among the counts.
    """
    quality = sequence_quality([r.seq for r in eval_set["records"]], what=what)
    quality["counts"]["n_species"] = len(set(eval_set["species"]))
    return quality


def worst_species(match: Any, bins: np.ndarray, eval_set: dict[str, Any], count: int = 3) -> list[dict[str, Any]]:
    """The ``count`` species of lowest binning F1, each with contigs left out of its matched bin.

    Parameters
    ----------
    match : BinMatch
        :func:`biocl.evaluate.amber.match_bins` of ``bins`` against the species.
    bins : array of int
        Bin of each contig of ``eval_set`` (-1: unbinned).
    eval_set : dict
        The scored contigs (``records``, ``species``).
    count : int
        How many species to list.

    Returns
    -------
    list of dict
        ``id`` (the species), ``value`` (its F1), ``metric``, ``higher_is_better``,
        ``species``, ``contig`` (up to three ids of its contigs outside its matched bin, the
        identifiers of the contig FASTA) and ``detail``.
    """
    species = np.asarray(eval_set["species"])
    ids = np.array([r.id for r in eval_set["records"]], dtype=object)
    bins = np.asarray(bins)
    rows = sorted(zip(match.species, match.matched_bin, match.f1, match.precision, match.recall),
                  key=lambda row: (row[2], row[0]))[:count]
    out = []
    for name, matched, f1, precision, recall in rows:
        mine = species == name
        missed = ids[mine & (bins != (-2 if matched is None else matched))]
        listed = ", ".join(missed[:_MAX_CONTIGS_LISTED].tolist())
        more = f" (+{missed.size - _MAX_CONTIGS_LISTED} more)" if missed.size > _MAX_CONTIGS_LISTED else ""
        out.append({"id": str(name), "value": float(f1), "metric": WORST_CASE_METRIC, "higher_is_better": True,
                    "species": str(name), "contig": listed + more if listed else None,
                    "detail": f"binning F1 {f1:.2f} (precision {precision:.2f}, recall {recall:.2f}) over "
                              f"{int(mine.sum())} contigs; {missed.size} outside its matched bin"})
    return out
