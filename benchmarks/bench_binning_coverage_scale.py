"""A real-sample-sized binning with coverage from a depth table: time and peak memory of each stage.

Usage::

    python benchmarks/bench_binning_coverage_scale.py [--contigs 100000] [--mean-bp 10000] [--genomes 500]
        [--samples 6] [--threads 2] [--encoder-bp 2000000] [--json PATH]

What it builds (not timed): ``--contigs`` contigs from ``--genomes`` genomes (bases drawn
with a per-genome GC content, lengths log-normal around ``--mean-bp``, at least 2 kb), a
VAMB-style ``abundance.tsv`` for ``--samples`` samples (log-normal genome abundances,
Poisson noise of 150 bp reads), both written to a temporary folder.

What it times, stage by stage (wall and CPU seconds: on a shared machine wall time
includes waiting for the cores), with the process's peak resident memory after each stage
(``ru_maxrss``, which only grows): reading the FASTA (as ``biocl dna bin`` does), reading and
aligning the depth table, the composition view, the coverage view and fusion, the label-free
threshold search, the kNN-graph binning, writing the bins. The composition view is timed
with canonical TNF at full size; the self-trained encoder's embedding is measured on
``--encoder-bp`` base pairs (both strands, as ``biocl dna bin`` embeds) and its full-size
time projected from that rate, stated as such, because at today's CPU rate it would take
hours here.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _write_inputs(folder: Path, *, n_contigs: int, mean_bp: int, n_genomes: int, n_samples: int,
                  seed: int) -> tuple[Path, Path, int]:
    rng = np.random.default_rng(seed)
    genome_of = rng.integers(0, n_genomes, n_contigs)
    gc = rng.uniform(0.3, 0.7, n_genomes)
    lengths = np.maximum(2_000, rng.lognormal(np.log(mean_bp) - 0.18, 0.6, n_contigs).astype(np.int64))
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    fasta = folder / "contigs.fa"
    with open(fasta, "w") as handle:
        for i, (g, length) in enumerate(zip(genome_of, lengths)):
            p = np.array([1 - gc[g], gc[g], gc[g], 1 - gc[g]]) / 2
            handle.write(f">c{i}\n{letters[rng.choice(4, size=length, p=p)].tobytes().decode()}\n")
    depth = 10 * rng.lognormal(-0.5, 1.0, (n_genomes, n_samples))[genome_of]
    reads = rng.poisson(depth * lengths[:, None] / 150)
    observed = reads * 150 / lengths[:, None]
    table = folder / "abundance.tsv"
    with open(table, "w") as handle:
        handle.write("contigname\t" + "\t".join(f"S{s + 1}" for s in range(n_samples)) + "\n")
        for i, row in enumerate(observed):
            handle.write(f"c{i}\t" + "\t".join(f"{x:.4f}" for x in row) + "\n")
    return fasta, table, int(lengths.sum())


def _encoder_rate(records: list, budget_bp: int) -> float:
    from biocl.encoders.dna import DnaConvEncoder, embed_sequences

    chosen, total = [], 0
    for record in records:
        if total >= budget_bp:
            break
        chosen.append(record.seq)
        total += len(record.seq)
    encoder = DnaConvEncoder()
    embed_sequences(encoder, chosen[:2], window_bp=10_000)
    started = time.perf_counter()
    embed_sequences(encoder, chosen, window_bp=10_000)
    return total / (time.perf_counter() - started)


def run(args: argparse.Namespace) -> dict:
    """Build the inputs, run every stage, return the rows."""
    import torch

    from biocl.data.dna.bins import write_bins
    from biocl.data.dna.coverage import read_depth_table
    from biocl.data.dna.tnf import CanonicalTNF
    from biocl.evaluate.binning import bin_embeddings
    from biocl.evaluate.binning_threshold import silhouette_threshold
    from biocl.pipelines.dna_binning import CoverageOptions
    from biocl.pipelines.dna_binning.binning import read_for_binning
    from biocl.pipelines.dna_binning.coverage import coverage_view
    from biocl.pipelines.dna_binning.views import fuse_views

    torch.set_num_threads(args.threads)
    rows: list[dict] = []

    def stage(name: str, fn):
        started, cpu = time.perf_counter(), time.process_time()
        value = fn()
        rows.append({"stage": name, "seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu,
                     "peak_rss_mb": _peak_mb()})
        print(f"{name:<38} {rows[-1]['seconds']:>9.1f} s {rows[-1]['cpu_s']:>9.1f} s {rows[-1]['peak_rss_mb']:>9.0f} MB",
              flush=True)
        return value

    with tempfile.TemporaryDirectory(prefix="biocl_scale_") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        fasta, table, total_bp = _write_inputs(folder, n_contigs=args.contigs, mean_bp=args.mean_bp,
                                               n_genomes=args.genomes, n_samples=args.samples, seed=args.seed)
        print(f"{args.contigs} contigs, {total_bp / 1e6:.0f} Mbp, {args.genomes} genomes, {args.samples} samples "
              f"(inputs written in {time.perf_counter() - started:.0f} s, not counted); {args.threads} threads")
        print(f"{'stage':<38} {'wall':>11} {'CPU':>11} {'peak RSS':>12}")
        records, long_enough, _ = stage("read FASTA", lambda: read_for_binning(fasta, min_length_bp=2_000))
        kept = [r for r, ok in zip(records, long_enough) if ok]
        options = CoverageOptions(abundance=table)
        coverage = stage("read + align depth table",
                         lambda: read_depth_table(table).aligned_to([r.id for r in kept]))
        composition = stage("composition: canonical TNF", lambda: CanonicalTNF().fit_transform([r.seq for r in kept]))
        fused = stage("coverage view + fusion", lambda: fuse_views(
            composition, coverage_view(coverage, [r.length_bp for r in kept], options, seed=args.seed)[0]))
        threshold, _ = stage("threshold search (silhouette)",
                             lambda: silhouette_threshold(fused, k=args.k, min_bin_size=10, seed=args.seed))
        bins = stage("kNN graph + binning", lambda: bin_embeddings(fused, threshold, binner="graph", k=args.k,
                                                                    min_bin_size=10))
        full = np.full(len(records), -1, dtype=np.int64)
        full[long_enough] = bins
        stage("write bins", lambda: write_bins(folder / "out", records, full, [None] * len(records),
                                               min_fasta_bp=200_000))
        rate = _encoder_rate(kept, args.encoder_bp)
    measured = sum(r["seconds"] for r in rows)
    cpu_total = sum(r["cpu_s"] for r in rows)
    projected = total_bp / rate
    print(f"{'total (TNF composition)':<38} {measured:>9.1f} s {cpu_total:>9.1f} s; bins {len(set(bins[bins >= 0].tolist()))}, "
          f"threshold {threshold:.4f}")
    print(f"encoder embedding: {rate / 1e6:.3f} Mbp/s measured on {args.encoder_bp / 1e6:.0f} Mbp -> projected "
          f"{projected:.0f} s for {total_bp / 1e6:.0f} Mbp (not run)")
    return {"contigs": args.contigs, "total_bp": total_bp, "genomes": args.genomes, "samples": args.samples,
            "threads": args.threads, "stages": rows, "total_s_tnf": measured, "total_cpu_s_tnf": cpu_total, "encoder_bp_per_s": rate,
            "encoder_projected_s": projected, "n_bins": int(len(set(bins[bins >= 0].tolist())))}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print the table (and write JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contigs", type=int, default=100_000)
    parser.add_argument("--mean-bp", type=int, default=10_000)
    parser.add_argument("--genomes", type=int, default=500)
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--encoder-bp", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(args)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
