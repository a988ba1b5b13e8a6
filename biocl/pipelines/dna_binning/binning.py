"""Metagenomic binning of a user's own sequences, and scoring bins against a gold standard.

What ``biocl dna bin`` and ``biocl dna evaluate`` run. By default the encoder is trained on
the input itself (two non-overlapping windows of one sequence are a positive pair, the
other sequences of the batch are the negatives), so no pretrained model is needed;
``features="tnf"`` bins canonical tetranucleotide frequencies instead.

The binning threshold needs no labels: by default the candidate whose bins have the highest
mean silhouette (:func:`biocl.evaluate.binning_threshold.silhouette_threshold`), or a
percentile of half-to-half similarities (:func:`~biocl.evaluate.binning_threshold.halves_threshold`);
the module says why the first is the default. The paper's labelled calibration
(:func:`biocl.evaluate.binning.calibrate_threshold`) is used by the ``dna_species``
pipeline, where a labelled calibration set exists; a user may also pass a threshold.

The output folder (bins, ``clusters.tsv``, bioboxes, the unbinned sequences) is written and
read by :mod:`biocl.data.dna.bins`; ``summary.json`` beside it holds the counts, threshold
and settings, and the input's length and GC distributions (``data_quality``,
:mod:`biocl.pipelines.dna_binning.quality`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from biocl.data.dna.bins import UNBINNED, is_bins_folder, read_bin_lengths, read_bins, write_bins
from biocl.data.dna.fasta import ReadStats, read_gold_standard, read_sequences
from biocl.evaluate.amber import amber_metrics, binning_ari, match_bins
from biocl.evaluate.binning import bin_embeddings
from biocl.evaluate.binning_threshold import halves_threshold, silhouette_threshold
from biocl.pipelines.dna_binning.coverage import CoverageOptions, coverage_view, load_coverage
from biocl.pipelines.dna_binning.quality import sequence_quality
from biocl.pipelines.dna_binning.training import SelfTraining
from biocl.pipelines.dna_binning.views import fuse_views
from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError
from biocl.utils.io import check_result_folder, result_folder, write_json
from biocl.utils.runtime import set_threads

__all__ = ["read_for_binning", "bin_fasta", "evaluate_binning"]


def read_for_binning(path: str | Path, *, min_length_bp: int = 2_500) -> tuple[list, np.ndarray, Any]:
    """Every record of a FASTA/FASTQ file, with which ones are long enough to bin.

    Ambiguity codes are masked to N (never skipped), so every input sequence is accounted for.

    Returns
    -------
    records : list of SequenceRecord
        All records, in file order.
    long_enough : ndarray of bool
        ``length_bp >= min_length_bp``.
    stats : ReadStats
        The reader's counts.

    Raises
    ------
    BioclError
        When the file is unreadable (see :func:`biocl.data.dna.fasta.read_sequences`) or no sequence
        reaches ``min_length_bp``.
    """
    stats = ReadStats()
    records = list(read_sequences(path, min_length_bp=0, ambiguous="mask", stats=stats))
    long_enough = np.array([r.length_bp >= min_length_bp for r in records], dtype=bool)
    stats.min_length_bp = min_length_bp
    stats.n_too_short = int((~long_enough).sum())
    if not long_enough.any():
        raise BioclError(f"no sequence to bin: all {len(records)} are shorter than {min_length_bp} bp",
                         path=path, hint="lower --min-length or give longer contigs")
    return records, long_enough, stats


@fill_doc
def bin_fasta(path: str | Path, out_dir: str | Path, *, features: str = "learned", model: str | None = None,
              trust_remote_code: bool = False, training: SelfTraining = SelfTraining(), window_bp: int = 10_000,
              min_length_bp: int = 2_500, binner: str = "graph", threshold: float | None = None,
              calibration: str = "silhouette", threshold_percentile: float = 70.0, min_bin_size: int = 10,
              graph_k: int = 50, seed: int = 0, device: str = "auto",
              save_model: str | Path | None = None, coverage: CoverageOptions = CoverageOptions(),
              min_fasta_bp: int = 0, threads: int | None = None) -> dict[str, Any]:
    """Bin the sequences of a FASTA/FASTQ file into ``out_dir`` (see :mod:`biocl.data.dna.bins`).

    Parameters
    ----------
    path : str | Path
        Contigs or long reads (FASTA/FASTQ, plain/gzip/bzip2).
    out_dir : str | Path
        Output folder.
    features : {"learned", "tnf"}
        Self-trained encoder embeddings, or canonical TNF (136 features).
    model : str | None
        Start from this encoder (a ``biocl dna train`` file or a Hugging Face folder); None
        starts from random weights. ``training.steps=0`` embeds with it unchanged.
    %(trust_remote_code)s
    training : SelfTraining
        Self-training on the input (steps of both phases, pairs per step, view length, lr).
    window_bp : int
        Embedding window (bp); windows are averaged per sequence.
    min_length_bp : int
        Shorter sequences are not binned (listed as unbinned, reason ``too_short``).
    binner : {"graph", "kmedoid"}
        The kNN-graph binner (memory O(n k)) or the paper's K-medoid (O(n^2)).
    threshold : float | None
        Cosine-similarity threshold; None calibrates it without labels (``calibration``).
    calibration : {"silhouette", "halves"}
        :func:`~biocl.evaluate.binning_threshold.silhouette_threshold` or
        :func:`~biocl.evaluate.binning_threshold.halves_threshold` (composition only).
    threshold_percentile : float
        Percentile of the half-to-half similarities (``calibration="halves"``).
    min_bin_size : int
        Smaller bins are dissolved into unbinned (reason ``small_bin``).
    graph_k : int
        Neighbours per sequence in the graph binner.
    %(seed)s
    %(device)s
    save_model : str | Path | None
        Also write the trained encoder here (default encoder only).
    coverage : CoverageOptions
        BAM files or a depth table; when given, coverage is a second view fused with the
        composition (:mod:`biocl.pipelines.dna_binning.views`). Read before any training.
    min_fasta_bp : int
        A bin's FASTA is written only when it holds at least this many base pairs (VAMB's
        ``--minfasta``); every bin stays in ``clusters.tsv``.
    %(threads)s

    Returns
    -------
    dict
        The summary also written to ``summary.json``.
    """
    if features not in ("learned", "tnf"):
        raise BioclError(f"unknown features {features!r}", hint="use 'learned' or 'tnf'")
    if calibration not in ("silhouette", "halves"):
        raise BioclError(f"unknown calibration {calibration!r}", hint="use 'silhouette' or 'halves'")
    # The output is checked before any work and written as a whole at the end (result_folder).
    check_result_folder(out_dir, previous=is_bins_folder)
    if coverage.given and calibration == "halves":
        raise BioclError("--calibration halves compares halves of one sequence's composition, not coverage",
                         hint="use --calibration silhouette with coverage")
    set_threads(threads)
    records, long_enough, stats = read_for_binning(path, min_length_bp=min_length_bp)
    # A sequence of N only has no features to compare: it is unbinned with that reason.
    informative = np.array([r.seq.count("N") < r.length_bp for r in records], dtype=bool)
    binnable = long_enough & informative
    if not binnable.any():
        raise BioclError(f"no sequence to bin: none of the {len(records)} at least {min_length_bp} bp long has an "
                         "unambiguous base (A, C, G or T)", path=path, hint="give sequences, not gaps")
    kept = [r for r, ok in zip(records, binnable) if ok]
    sequences = [r.seq for r in kept]
    summary: dict[str, Any] = {"input": str(path), "features": features, "binner": binner, "seed": seed,
                               "n_sequences": len(records), "n_too_short": int((~long_enough).sum()),
                               "min_length_bp": min_length_bp, "ambiguous_bases_masked": stats.n_ambiguous_bases_masked,
                               "min_fasta_bp": min_fasta_bp, "threads": threads, "coverage": None}
    # What the input holds, measured before any training (every record, too short ones included).
    summary["data_quality"] = sequence_quality([r.seq for r in records], what="input sequences")
    # Coverage is read before the expensive work, so a bad BAM or table fails at once.
    cov_features = None
    if coverage.given:
        depth = load_coverage(coverage, {r.id: r.length_bp for r in kept})
        cov_features, info = coverage_view(depth, [r.length_bp for r in kept], coverage, seed=seed)
        summary["coverage"] = {**coverage.as_dict(), **info}
    featurize = _featurizer(features, kept, model=model, trust_remote_code=trust_remote_code, training=training,
                            window_bp=window_bp, seed=seed, device=device, save_model=save_model, summary=summary)
    embeddings = featurize(sequences)
    if cov_features is not None:
        embeddings = fuse_views(embeddings, cov_features, weight=coverage.weight)
    if threshold is None and calibration == "halves":
        threshold = halves_threshold(featurize, sequences, percentile=threshold_percentile)
        summary["threshold_rule"] = f"percentile {threshold_percentile} of half-to-half similarities"
    elif threshold is None:
        threshold, candidates = silhouette_threshold(embeddings, binner=binner, k=graph_k, min_bin_size=min_bin_size,
                                                     seed=seed)
        summary["threshold_rule"] = "highest mean silhouette (unbinned sequences count 0)"
        summary["threshold_candidates"] = candidates
    else:
        summary["threshold_rule"] = "given"
    kept_bins = bin_embeddings(embeddings, threshold, binner=binner, k=graph_k, min_bin_size=min_bin_size)
    bins = np.full(len(records), -1, dtype=np.int64)
    bins[binnable] = kept_bins
    reasons = ["too_short" if not ok else "no_unambiguous_bases" if not has_bases
               else ("below_threshold_or_small_bin" if b < 0 else None)
               for ok, has_bases, b in zip(long_enough, informative, bins)]
    with result_folder(out_dir, previous=is_bins_folder) as folder:
        written = write_bins(folder, records, bins, reasons, min_fasta_bp=min_fasta_bp)
        written["paths"] = {key: str(Path(out_dir) / Path(value).relative_to(folder))
                            for key, value in written["paths"].items()}
        summary.update(threshold=float(threshold), **written)
        write_json(folder / "summary.json", summary)
    return summary


def _featurizer(features: str, kept: list, *, model: str | None, trust_remote_code: bool, training: SelfTraining,
                window_bp: int, seed: int, device: str, save_model: str | Path | None,
                summary: dict[str, Any]) -> Callable[[list[str]], np.ndarray]:
    """The composition view: TNF, or the (self-trained) encoder's embedding; records the model in ``summary``."""
    from biocl.data.dna.tnf import CanonicalTNF
    from biocl.encoders.dna import DnaConvEncoder, embed_sequences
    from biocl.pipelines.dna_species.training import load_embedding_model
    from biocl.train import select_device
    from biocl.utils.seeding import seeded

    if features == "tnf":
        transformer = CanonicalTNF()
        return transformer.fit_transform
    # Self-training builds the projection head, so it shares the encoder's seeded block.
    with seeded(seed):
        encoder = load_embedding_model(model, trust_remote_code=trust_remote_code) if model else DnaConvEncoder()
        if training.steps > 0:
            encoder = training.fit(encoder, {r.id: r.seq for r in kept}, seed=seed, device=device)
    run_device = select_device(device)
    encoder = encoder.to(run_device)
    summary.update(model=str(model) if model else "default", train_steps=training.steps,
                   mimix_steps=training.mimix_steps)
    if save_model is not None:
        if not encoder.savable:
            raise BioclError("--save-model writes the default encoder only", path=save_model)
        summary["model_sha256"] = encoder.cpu().save(save_model)
        encoder = encoder.to(run_device)

    def featurize(seqs: list[str]) -> np.ndarray:
        return embed_sequences(encoder, seqs, window_bp=window_bp, device=run_device,
                               progress_label="embedding the sequences")
    return featurize


def evaluate_binning(bins_path: str | Path, truth_path: str | Path, *, fasta: str | Path | None = None,
                     lengths: dict[str, int] | None = None,
                     species_path: str | Path | None = None) -> dict[str, Any]:
    """Score bins against a gold standard: ARI, the paper's matched F1 counts, AMBER metrics.

    Sequences of the gold standard that no bin lists count as unbinned. ``truth_path``
    gives each sequence's genome: AMBER's "genomes recovered" and the matched F1 count
    genomes. With ``species_path`` (each sequence's species), ``species`` adds the ARI and
    matched F1 at species level, so strains of one species are not counted as genomes.

    Parameters
    ----------
    bins_path : str | Path
        A ``biocl dna bin`` folder, ``clusters.tsv`` or bioboxes file.
    truth_path : str | Path
        Gold standard (bioboxes or ``sequence_id<tab>label`` TSV).
    fasta : str | Path | None
        The binned sequences (FASTA/FASTQ), read for their lengths (AMBER's base-pair metrics).
    lengths : dict | None
        Sequence lengths (bp) for AMBER, instead of ``fasta``; when both are None they are
        read from the bins folder (``clusters.tsv`` or its FASTA files).
    species_path : str | Path | None
        Species gold standard of the same sequences (same formats as ``truth_path``).

    Returns
    -------
    dict
        ``ari``, ``n_sequences``, ``n_unbinned``, ``match`` (per-genome F1, counts),
        ``amber`` (genome level) and, with ``species_path``, ``species`` (``ari``, ``match``).

    Raises
    ------
    BioclError
        When the species gold standard lacks a sequence of the genome gold standard.
    """
    if lengths is None and fasta is not None:
        lengths = {r.id: r.length_bp for r in read_sequences(fasta, min_length_bp=0)}
    assignment = read_bins(bins_path)
    truth = read_gold_standard(truth_path)
    ids = list(truth)
    unknown = set(assignment) - set(truth)
    bins = [assignment.get(i, UNBINNED) for i in ids]
    names = {b: k for k, b in enumerate(sorted({b for b in bins if b != UNBINNED}))}
    codes = np.array([names[b] if b != UNBINNED else -1 for b in bins], dtype=np.int64)
    labels = [truth[i] for i in ids]
    match = match_bins(codes, labels)
    result: dict[str, Any] = {"ari": binning_ari(bins, labels), "n_sequences": len(ids),
                              "n_unbinned": int((codes < 0).sum()), "n_not_in_truth": len(unknown),
                              "match": match.as_dict()}
    if lengths is None and Path(bins_path).is_dir():
        lengths = read_bin_lengths(bins_path)
    if lengths is not None and all(i in lengths for i in ids):
        result["amber"] = amber_metrics(codes, labels, [lengths[i] for i in ids])
    if species_path is not None:
        species = read_gold_standard(species_path)
        missing = next((i for i in ids if i not in species), None)
        if missing is not None:
            raise BioclError(f"sequence {missing!r} of the genome gold standard has no species", path=species_path,
                             hint="give the species of every sequence of --truth")
        species_labels = [species[i] for i in ids]
        result["species"] = {"ari": binning_ari(bins, species_labels),
                             "match": match_bins(codes, species_labels).as_dict()}
    return result
