"""Metagenomic binning of a user's own sequences, and scoring bins against a gold standard.

What ``biocl dna bin`` and ``biocl dna evaluate`` run. By default the encoder is trained on
the input itself (two non-overlapping windows of one sequence are a positive pair, the
other sequences of the batch are the negatives), so no pretrained model is needed;
``features="tnf"`` bins canonical tetranucleotide frequencies instead.

The binning threshold needs no labels. By default (:func:`silhouette_threshold`) candidate
thresholds are tried and the one whose bins have the highest mean silhouette wins, an
unbinned sequence counting as a singleton (silhouette 0). The older rule
(:func:`halves_threshold`) takes a percentile of the similarity between each sequence's two
halves; it suits fixed features such as TNF but not an encoder trained on the sample itself,
which was trained to make two pieces of one sequence alike, so the halves look more alike
than two contigs of one genome do and the threshold comes out too strict. The paper's
labelled calibration (:func:`biocl.evaluate.binning.calibrate_threshold`) is used by the
``dna_species`` pipeline, where a labelled calibration set exists; a user may also pass a
threshold.

Output folder::

    bins/bin.<i>.fa     one FASTA per bin (bins numbered from 1, largest first)
    clusters.tsv        sequence_id <tab> bin (``unbinned`` for the rest), every input sequence once
    bins.binning        CAMI bioboxes file of the binned sequences
    unbinned.fa         the sequences in no bin (long enough but unassigned, or too short)
    unbinned.tsv        sequence_id <tab> length_bp <tab> reason
    summary.json        counts, threshold, settings
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biocl.pipelines.dna_binning.training import SelfTraining
from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError
from biocl.utils.io import atomic_path, write_json

__all__ = [
    "read_for_binning",
    "halves_threshold",
    "silhouette_threshold",
    "bin_embeddings",
    "write_bins",
    "bin_fasta",
    "read_bins",
    "binning_ari",
    "evaluate_binning",
    "UNBINNED",
]

UNBINNED = "unbinned"


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
    from biocl.data.dna.fasta import ReadStats, read_sequences

    stats = ReadStats()
    records = list(read_sequences(path, min_length_bp=0, ambiguous="mask", stats=stats))
    long_enough = np.array([r.length_bp >= min_length_bp for r in records], dtype=bool)
    stats.min_length_bp = min_length_bp
    stats.n_too_short = int((~long_enough).sum())
    if not long_enough.any():
        raise BioclError(f"no sequence to bin: all {len(records)} are shorter than {min_length_bp} bp",
                         path=path, hint="lower --min-length or give longer contigs")
    return records, long_enough, stats


def halves_threshold(featurize: Callable[[list[str]], np.ndarray], sequences: Sequence[str], *,
                     percentile: float = 70.0) -> float:
    """Label-free binning threshold: a percentile of the similarity between each sequence's two halves.

    Parameters
    ----------
    featurize : callable
        ``featurize(sequences) -> (n, d)`` embeddings.
    sequences : sequence of str
        The sequences to bin (bases).
    percentile : float
        Percentile of the half-to-half cosine similarities (lower: looser bins).

    Returns
    -------
    float
        Cosine-similarity threshold for :func:`bin_embeddings`.
    """
    firsts = [s[: len(s) // 2] for s in sequences]
    seconds = [s[len(s) // 2:] for s in sequences]
    features = featurize(firsts + seconds)
    features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    n = len(sequences)
    similarities = (features[:n] * features[n:]).sum(axis=1)
    return float(np.percentile(similarities, percentile))


def silhouette_threshold(embeddings: np.ndarray, *, binner: str = "graph", k: int = 50, min_bin_size: int = 10,
                         n_candidates: int = 40, max_sequences: int = 5_000, seed: int = 0) -> tuple[float, list[dict]]:
    """Label-free binning threshold: the candidate whose bins have the highest mean silhouette.

    Candidates are quantiles ``1 - q`` of the cosine similarities between all pairs of
    sequences, ``q`` log-spaced from 0.5 to 0.001 (the share of pairs in one bin is about
    1 / number of genomes, so this covers 2 to about 1,000 genomes). Each candidate is scored
    by the mean silhouette (cosine) over all sequences, unbinned ones counting 0 as
    singletons do in :func:`sklearn.metrics.silhouette_score`: tight, well separated bins
    that leave few sequences out score high.

    Parameters
    ----------
    embeddings : array of shape (n, d)
        The sequences to bin.
    binner, k, min_bin_size
        As :func:`bin_embeddings`.
    n_candidates : int
        Thresholds tried.
    max_sequences : int
        Above this, the search runs on a random subsample of this size (``min_bin_size``
        scaled down in proportion, at least 2), since each candidate costs a binning and an
        O(m^2) silhouette.
    seed : int
        Seed of the subsample.

    Returns
    -------
    threshold : float
        The chosen cosine threshold.
    candidates : list of dict
        ``{"threshold", "silhouette", "binned_fraction", "score"}`` for every candidate tried.
    """
    from sklearn.metrics import silhouette_score

    features = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    features = features.astype(np.float32)
    n = len(features)
    if n > max_sequences:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=max_sequences, replace=False))
        features, min_bin_size = features[keep], max(2, round(min_bin_size * max_sequences / n))
    if len(features) < 3:  # nothing to choose between: only identical sequences share a bin
        return 1.0, []
    pairs = (features @ features.T)[np.triu_indices(len(features), 1)]
    thresholds = np.unique(np.quantile(pairs, 1.0 - np.geomspace(0.5, 1e-3, n_candidates)))
    if binner == "graph":
        from biocl.evaluate.binning import graph_bins, knn_graph

        # One kNN graph at the loosest candidate serves every candidate (graph_bins drops the weaker edges).
        k = min(k, len(features) - 1)
        graph = knn_graph(features, k, threshold=float(thresholds[0]))

        def binning(threshold: float) -> np.ndarray:
            return graph_bins(features, threshold, k=k, min_bin_size=min_bin_size, graph=graph)
    else:
        def binning(threshold: float) -> np.ndarray:
            return bin_embeddings(features, threshold, binner=binner, k=k, min_bin_size=min_bin_size)
    candidates = []
    for threshold in thresholds:
        bins = binning(float(threshold))
        binned = bins >= 0
        if len(np.unique(bins[binned])) < 2:
            silhouette = 0.0
        else:
            silhouette = float(silhouette_score(features[binned], bins[binned], metric="cosine"))
        candidates.append({"threshold": float(threshold), "silhouette": silhouette,
                           "binned_fraction": float(binned.mean()), "score": silhouette * float(binned.mean())})
    best = max(candidates, key=lambda c: c["score"])
    return best["threshold"], candidates


def bin_embeddings(embeddings: np.ndarray, threshold: float, *, binner: str = "graph", k: int = 50,
                   min_bin_size: int = 10) -> np.ndarray:
    """Bins from embeddings: the paper's K-medoid or the k-nearest-neighbour graph binner.

    Returns
    -------
    ndarray of int64, shape (n,)
        Bin of each row, -1 for unbinned.
    """
    from biocl.evaluate.binning import graph_bins, kmedoid_bins

    if binner == "kmedoid":
        return kmedoid_bins(embeddings, threshold, min_bin_size=min_bin_size)
    if binner == "graph":
        return graph_bins(embeddings, threshold, k=min(k, max(len(embeddings) - 1, 1)), min_bin_size=min_bin_size)
    raise BioclError(f"unknown binner {binner!r}", hint="use 'graph' or 'kmedoid'")


def write_bins(out_dir: str | Path, records: Sequence, bins: np.ndarray, reasons: Sequence[str | None]) -> dict:
    """Write the binning outputs (see the module docstring); every record appears exactly once.

    Parameters
    ----------
    out_dir : str | Path
        Output folder (created).
    records : sequence of SequenceRecord
        Every input record.
    bins : ndarray of int, shape (len(records),)
        Bin of each record, -1 when unbinned.
    reasons : sequence of str | None
        Why each unbinned record is unbinned (ignored for binned ones).

    Returns
    -------
    dict
        ``{"n_bins", "n_binned", "n_unbinned", "bin_sizes", "paths"}``.
    """
    from biocl.data.dna.fasta import write_bioboxes, write_fasta

    out_dir = Path(out_dir)
    bins_dir = out_dir / "bins"
    bins_dir.mkdir(parents=True, exist_ok=True)
    for stale in bins_dir.glob("bin.*.fa"):
        stale.unlink()
    # Bins are renumbered 1.. by size (largest first) so names are stable and readable.
    sizes = Counter(int(b) for b in bins if b >= 0)
    order = sorted(sizes, key=lambda b: (-sizes[b], b))
    names = {old: f"bin.{new}" for new, old in enumerate(order, start=1)}
    assignment = {r.id: names[int(b)] if b >= 0 else UNBINNED for r, b in zip(records, bins)}
    for old in order:
        write_fasta(bins_dir / f"{names[old]}.fa", [r for r, b in zip(records, bins) if b == old])
    unbinned = [(r, reason) for r, b, reason in zip(records, bins, reasons) if b < 0]
    write_fasta(out_dir / "unbinned.fa", [r for r, _ in unbinned])
    with atomic_path(out_dir / "clusters.tsv") as tmp:
        tmp.write_text("sequence_id\tbin\n" + "".join(f"{i}\t{b}\n" for i, b in assignment.items()))
    with atomic_path(out_dir / "unbinned.tsv") as tmp:
        tmp.write_text("sequence_id\tlength_bp\treason\n"
                       + "".join(f"{r.id}\t{r.length_bp}\t{reason}\n" for r, reason in unbinned))
    write_bioboxes(out_dir / "bins.binning", {i: b for i, b in assignment.items() if b != UNBINNED})
    return {"n_bins": len(order), "n_binned": len(records) - len(unbinned), "n_unbinned": len(unbinned),
            "bin_sizes": [sizes[b] for b in order],
            "paths": {"bins": str(bins_dir), "clusters": str(out_dir / "clusters.tsv"),
                      "bioboxes": str(out_dir / "bins.binning"), "unbinned": str(out_dir / "unbinned.fa")}}


@fill_doc
def bin_fasta(path: str | Path, out_dir: str | Path, *, features: str = "learned", model: str | None = None,
              trust_remote_code: bool = False, training: SelfTraining = SelfTraining(), window_bp: int = 10_000,
              min_length_bp: int = 2_500, binner: str = "graph", threshold: float | None = None,
              calibration: str = "silhouette", threshold_percentile: float = 70.0, min_bin_size: int = 10,
              graph_k: int = 50, seed: int = 0, device: str = "auto",
              save_model: str | Path | None = None) -> dict[str, Any]:
    """Bin the sequences of a FASTA/FASTQ file; see the module docstring for the outputs.

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
        :func:`silhouette_threshold` or :func:`halves_threshold`.
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

    Returns
    -------
    dict
        The summary also written to ``summary.json``.
    """
    from biocl.data.dna.tnf import CanonicalTNF
    from biocl.encoders.dna import DnaConvEncoder, embed_sequences, save_dna_encoder
    from biocl.pipelines.dna_species.training import load_embedding_model
    from biocl.train import select_device
    from biocl.utils.seeding import seeded_torch

    if features not in ("learned", "tnf"):
        raise BioclError(f"unknown features {features!r}", hint="use 'learned' or 'tnf'")
    if calibration not in ("silhouette", "halves"):
        raise BioclError(f"unknown calibration {calibration!r}", hint="use 'silhouette' or 'halves'")
    records, long_enough, stats = read_for_binning(path, min_length_bp=min_length_bp)
    kept = [r for r, ok in zip(records, long_enough) if ok]
    sequences = [r.seq for r in kept]
    summary: dict[str, Any] = {"input": str(path), "features": features, "binner": binner, "seed": seed,
                               "n_sequences": len(records), "n_too_short": int((~long_enough).sum()),
                               "min_length_bp": min_length_bp, "ambiguous_bases_masked": stats.n_ambiguous_bases_masked}
    if features == "tnf":
        transformer = CanonicalTNF()

        def featurize(seqs: list[str]) -> np.ndarray:
            return transformer.fit_transform(seqs)
    else:
        # Self-training builds the projection head, so it shares the encoder's seeded block.
        with seeded_torch(seed):
            encoder = load_embedding_model(model, trust_remote_code=trust_remote_code) if model else DnaConvEncoder()
            if training.steps > 0:
                encoder = training.fit(encoder, {r.id: r.seq for r in kept}, seed=seed, device=device)
        run_device = select_device(device)
        encoder = encoder.to(run_device)
        summary.update(model=str(model) if model else "default", train_steps=training.steps,
                       mimix_steps=training.mimix_steps)
        if save_model is not None:
            if not isinstance(encoder, DnaConvEncoder):
                raise BioclError("--save-model writes the default encoder only", path=save_model)
            summary["model_sha256"] = save_dna_encoder(encoder.cpu(), save_model)
            encoder = encoder.to(run_device)

        def featurize(seqs: list[str]) -> np.ndarray:
            return embed_sequences(encoder, seqs, window_bp=window_bp, device=run_device)
    embeddings = featurize(sequences)
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
    bins[long_enough] = kept_bins
    reasons = ["too_short" if not ok else ("below_threshold_or_small_bin" if b < 0 else None)
               for ok, b in zip(long_enough, bins)]
    written = write_bins(out_dir, records, bins, reasons)
    summary.update(threshold=float(threshold), **written)
    write_json(Path(out_dir) / "summary.json", summary)
    return summary


def read_bins(path: str | Path) -> dict[str, str]:
    """Sequence id -> bin from a ``biocl dna bin`` folder, a ``clusters.tsv`` or a bioboxes file.

    Unbinned sequences (``clusters.tsv`` lists them) map to :data:`UNBINNED`.
    """
    from biocl.data.dna.fasta import read_gold_standard

    path = Path(path)
    if path.is_dir():
        for name in ("clusters.tsv", "bins.binning"):
            if (path / name).is_file():
                return read_bins(path / name)
        raise BioclError("no clusters.tsv or bins.binning in the bins folder", path=path,
                         hint="give the --out folder of `biocl dna bin` or a bins file")
    if not path.is_file():
        raise BioclError("bins file not found", path=path)
    return read_gold_standard(path)


def binning_ari(bins: Sequence[str], truth: Sequence[str]) -> float:
    """ARI of bins against the truth, each unbinned sequence counted as its own singleton bin."""
    from sklearn.metrics import adjusted_rand_score

    labels = [b if b != UNBINNED else f"{UNBINNED}:{i}" for i, b in enumerate(bins)]
    return float(adjusted_rand_score(list(truth), labels))


def evaluate_binning(bins_path: str | Path, truth_path: str | Path, *, fasta: str | Path | None = None,
                     lengths: dict[str, int] | None = None) -> dict[str, Any]:
    """Score bins against a gold standard: ARI, the paper's matched F1 counts, AMBER metrics.

    Sequences of the gold standard that no bin lists count as unbinned.

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
        read from the bins folder's FASTA files.

    Returns
    -------
    dict
        ``ari``, ``n_sequences``, ``n_unbinned``, ``match`` (per-species F1, counts) and ``amber``.
    """
    from biocl.data.dna.fasta import read_gold_standard, read_sequences
    from biocl.evaluate.amber import amber_metrics, match_bins

    if lengths is None and fasta is not None:
        lengths = {r.id: r.length_bp for r in read_sequences(fasta, min_length_bp=0)}
    assignment = read_bins(bins_path)
    truth = read_gold_standard(truth_path)
    ids = list(truth)
    unknown = set(assignment) - set(truth)
    bins = [assignment.get(i, UNBINNED) for i in ids]
    names = sorted({b for b in bins if b != UNBINNED})
    codes = np.array([names.index(b) if b != UNBINNED else -1 for b in bins], dtype=np.int64)
    labels = [truth[i] for i in ids]
    match = match_bins(codes, labels)
    result: dict[str, Any] = {"ari": binning_ari(bins, labels), "n_sequences": len(ids),
                              "n_unbinned": int((codes < 0).sum()), "n_not_in_truth": len(unknown),
                              "match": match.as_dict()}
    if lengths is None and Path(bins_path).is_dir():
        lengths = _lengths_from_folder(Path(bins_path))
    if lengths is not None and all(i in lengths for i in ids):
        result["amber"] = amber_metrics(codes, labels, [lengths[i] for i in ids])
    return result


def _lengths_from_folder(folder: Path) -> dict[str, int] | None:
    from biocl.data.dna.fasta import read_sequences

    files = sorted((folder / "bins").glob("*.fa")) + [folder / "unbinned.fa"]
    lengths: dict[str, int] = {}
    for fasta in files:
        if fasta.is_file() and fasta.stat().st_size > 0:
            lengths.update((r.id, r.length_bp) for r in read_sequences(fasta, min_length_bp=0))
    return lengths or None
