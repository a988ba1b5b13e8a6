"""Embedding every sequence of a user's file (`biocl dna embed`), on one process or under torchrun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from biocl.utils.docs import fill_doc

__all__ = ["embed_fasta"]


@fill_doc
def embed_fasta(fasta: str | Path, out: str | Path, *, model: str = "default", steps: int = 300,
                window_bp: int = 10_000, min_length_bp: int = 0, trust_remote_code: bool = False, seed: int = 0,
                device: str = "auto", coverage: Any = None, threads: int | None = None) -> dict[str, Any] | None:
    """Embed every sequence of a file into ``out`` (``.npy``), rows in input order, ids beside it.

    Under ``torchrun`` the ranks train together (gathered negatives), each embeds one
    contiguous share of the sequences, and rank 0 writes the single output in input order.
    A process group made by the caller is left open; one made here is destroyed.

    Parameters
    ----------
    fasta : str | Path
        Sequences (FASTA/FASTQ, plain, gzip or bzip2).
    out : str | Path
        Embeddings file; ``.npy`` is appended when missing, the ids go to ``<out>.ids.txt``.
    model : str
        ``"default"`` (the default encoder self-trained on the input itself), a file from
        ``biocl dna train``, or a local Hugging Face folder (used as it is).
    steps : int
        Self-training steps of the default encoder (0: untrained).
    window_bp : int
        Embedding window (bp); the windows of a sequence are averaged.
    min_length_bp : int
        Shorter sequences are skipped (bp).
    %(trust_remote_code)s
    %(seed)s
    %(device)s
    coverage : CoverageOptions | None
        BAM files or a depth table; when given, each row is the composition embedding fused
        with the coverage view (:mod:`biocl.pipelines.dna_binning.views`), as ``biocl dna bin``
        bins it. Read before any training.
    %(threads)s

    Returns
    -------
    dict | None
        On the process that writes (rank 0): ``embeddings`` and ``ids`` (paths),
        ``n_sequences``, ``dim``, ``model``, ``n_too_short``, ``processes`` and ``coverage``
        (settings, or None); None on the other ranks.
    """
    from biocl.utils.runtime import set_threads
    from biocl.train import distributed
    from biocl.utils.io import check_output_dir

    # The folder the embeddings go to is checked before any work.
    check_output_dir(Path(out).parent, overwrite=True)
    if Path(out).is_dir():
        from biocl.utils.errors import BioclError

        raise BioclError("the output is a folder; give the embeddings file to write", path=out,
                         hint="e.g. --out embeddings.npy")
    set_threads(threads)

    owns_group = distributed.world_size() == 1
    rank, world, _ = distributed.init_from_env(device)
    finished = False
    try:
        summary = _embed_shares(Path(fasta), Path(out), model=model, steps=steps, window_bp=window_bp,
                                min_length_bp=min_length_bp, trust_remote_code=trust_remote_code, seed=seed,
                                device=device, rank=rank, world=world, coverage=coverage)
        finished = True
    finally:
        if owns_group:
            distributed.destroy(synchronize=finished)
    return summary


def _embed_shares(fasta: Path, out: Path, *, model: str, steps: int, window_bp: int, min_length_bp: int,
                  trust_remote_code: bool, seed: int, device: str, rank: int, world: int,
                  coverage: Any = None) -> dict[str, Any] | None:
    import numpy as np

    from biocl.data.dna.fasta import ReadStats, read_sequences
    from biocl.encoders.dna import DnaConvEncoder, embed_sequences
    from biocl.pipelines.dna_binning.training import SelfTraining
    from biocl.pipelines.dna_species.training import load_embedding_model
    from biocl.train import distributed, select_device
    from biocl.utils.io import atomic_path
    from biocl.utils.seeding import seeded

    stats = ReadStats()
    records = list(read_sequences(fasta, min_length_bp=min_length_bp, stats=stats))
    cov_features, cov_info = None, None
    if coverage is not None and coverage.given:
        from biocl.pipelines.dna_binning.coverage import coverage_view, load_coverage

        depth = load_coverage(coverage, {r.id: r.length_bp for r in records})
        cov_features, cov_info = coverage_view(depth, [r.length_bp for r in records], coverage, seed=seed)
        cov_info = {**coverage.as_dict(), **cov_info}
    with seeded(seed):
        if model == "default":
            encoder = DnaConvEncoder()
            if steps > 0:
                encoder = SelfTraining(steps=steps).fit(encoder, {r.id: r.seq for r in records}, seed=seed,
                                                        device=device)
        else:
            encoder = load_embedding_model(model, trust_remote_code=trust_remote_code)
    run_device = select_device(device)
    share = np.array_split(np.arange(len(records)), world)[rank]
    embedded = embed_sequences(encoder.to(run_device), [records[i].seq for i in share], window_bp=window_bp,
                               device=run_device, progress_label="embedding the sequences")
    # Shares are contiguous and gathered in rank order, so the rows come back in input order.
    embeddings = np.concatenate(distributed.all_gather_object(embedded))
    if rank != 0:
        return None
    if cov_features is not None:
        from biocl.pipelines.dna_binning.views import fuse_views

        embeddings = fuse_views(embeddings, cov_features, weight=coverage.weight)
    out = out if out.suffix == ".npy" else out.with_name(out.name + ".npy")
    ids_path = out.with_suffix(".ids.txt")
    # Both files are written before either is renamed into place, so a failure leaves neither half done.
    with atomic_path(out) as tmp, atomic_path(ids_path) as ids_tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, embeddings)
        ids_tmp.write_text("".join(f"{r.id}\n" for r in records), encoding="utf-8")
    return {"embeddings": str(out), "ids": str(ids_path), "n_sequences": len(records),
            "dim": int(embeddings.shape[1]), "model": model, "n_too_short": stats.n_too_short, "processes": world,
            "coverage": cov_info}
