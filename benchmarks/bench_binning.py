"""Binning and TNF benchmark: time and peak memory of the binners, TNF sequences per second.

Rows:

- ``graph`` at n = 10^4, 10^5, 10^6 embeddings (128-d, clustered: 100 sequences per
  species): time of the kNN graph (exact or faiss) and of the greedy binning, peak
  resident memory, and the species recovered (matched F1 > 0.5 and > 0.9);
- ``kmedoid`` at n = 10^4 (the paper's binner), with the ARI between its bins and the
  graph binner's on the same input, and both against the true species;
- ``tnf``: TNF, canonical TNF and TNF-K feature extraction of 10 kb sequences per second.

Each binning case runs in a fresh child process so its peak resident set size
(``resource.getrusage``) is its own; ``extra MB`` is the peak minus the resident size once
the embeddings exist. Run
``python benchmarks/bench_binning.py [--max-n N] [--k 50] [--threads 1] [--device cpu]
[--knn-backends exact,faiss] [--exact-max-n 100000] [--json PATH]``.
The exact kNN graph is O(n^2 d) time: 10^6 takes hours on one CPU core, so by default it
runs up to 10^5 (``--device cuda`` makes 10^6 practical) and the approximate faiss HNSW
graph (``pip install 'biocl[faiss]'``) covers every size. On a shared machine the times
rise with the other load.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SIZES = (10_000, 100_000, 1_000_000)
KMEDOID_N = 10_000
DIM = 128
PER_SPECIES = 100


def _peak_rss_mb() -> float:
    # Linux reports kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def clustered_embeddings(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 128-d embeddings in ``n / 100`` species: a centre each plus noise of a per-species spread.

    Spreads differ between species (as real embeddings do), so the pooled 70th-percentile
    threshold admits most of a tight species and little of a loose one.
    """
    rng = np.random.default_rng(seed)
    n_species = max(2, n // PER_SPECIES)
    labels = rng.integers(0, n_species, size=n)
    centres = rng.normal(size=(n_species, DIM)).astype(np.float32)
    spread = rng.uniform(0.03, 0.15, size=n_species).astype(np.float32)
    noise = rng.normal(size=(n, DIM)).astype(np.float32) * spread[labels, None]
    return centres[labels] + noise, labels


def run_case(case: str, n: int, k: int, device: str, backend: str = "exact") -> dict:
    """One measurement, in this process."""
    from sklearn.metrics import adjusted_rand_score

    from biocl.evaluate.binning import calibrate_threshold, graph_bins, kmedoid_bins, knn_graph, match_bins

    embeddings, labels = clustered_embeddings(n)
    # A labelled calibration set as in the paper: every sequence of some 50 species.
    calibration = labels < 50
    threshold = calibrate_threshold(embeddings[calibration], labels[calibration])
    baseline = _current_rss_mb()
    row: dict = {"case": case if case == "kmedoid" else f"graph ({backend})", "n": n, "dim": DIM,
                 "threshold": round(threshold, 4)}
    if case == "graph":
        start = time.perf_counter()
        graph = knn_graph(embeddings, k, threshold=threshold, device=device, backend=backend)
        row["knn_s"] = time.perf_counter() - start
        start = time.perf_counter()
        bins = graph_bins(embeddings, threshold, graph=graph)
        row["bin_s"] = time.perf_counter() - start
        row.update(k=k, graph_edges=int(graph.nnz))
    else:
        start = time.perf_counter()
        bins = kmedoid_bins(embeddings, threshold)
        row["bin_s"] = time.perf_counter() - start
        graph_result = graph_bins(embeddings, threshold, k=k, device=device, backend=backend)
        row["ari_vs_graph"] = float(adjusted_rand_score(bins, graph_result))
        row["graph_ari_vs_truth"] = float(adjusted_rand_score(labels, graph_result))
    row["total_s"] = row.get("knn_s", 0.0) + row["bin_s"]
    row["ari_vs_truth"] = float(adjusted_rand_score(labels, bins))
    match = match_bins(bins, labels)
    row["species"] = len(match.species)
    row["n_f1_above_0_5"], row["n_f1_above_0_9"] = match.n_f1_above_0_5, match.n_f1_above_0_9
    row["n_bins"] = int(bins.max() + 1)
    row["unbinned_fraction"] = float((bins < 0).mean())
    row["peak_rss_mb"] = _peak_rss_mb()
    row["extra_mb"] = row["peak_rss_mb"] - baseline
    return row


def tnf_throughput(n_sequences: int = 300, length_bp: int = 10_000) -> list[dict]:
    """Sequences per second of each composition transformer on random 10 kb sequences."""
    from biocl.data.dna.tnf import TNF, CanonicalTNF, TNFKernel

    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    sequences = [letters[rng.integers(0, 4, length_bp)].tobytes().decode() for _ in range(n_sequences)]
    rows = []
    for model in (TNF(), CanonicalTNF(), TNFKernel()):
        model.fit(sequences[:1])
        start = time.perf_counter()
        model.transform(sequences)
        elapsed = time.perf_counter() - start
        rows.append({"case": f"tnf:{type(model).__name__}", "n": n_sequences, "length_bp": length_bp,
                     "total_s": elapsed, "sequences_per_s": n_sequences / elapsed})
    return rows


def _child(case: str, n: int, k: int, device: str, threads: int, backend: str = "exact") -> dict:
    command = [sys.executable, __file__, "--child", case, "--n", str(n), "--k", str(k), "--device", device,
               "--threads", str(threads), "--knn-backends", backend]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"case": case, "n": n, "error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    head = f"{'case':<18}{'n':>9}{'knn s':>9}{'bin s':>9}{'total s':>9}{'peak MB':>9}{'extra MB':>9}" \
           f"{'ARI true':>9}{'bins':>7}{'unbinned':>9}{'F1>.5':>7}{'F1>.9':>7}  notes"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['case']:<18}{r['n']:>9}  error: {r['error'][0]}")
            continue
        notes = []
        if "sequences_per_s" in r:
            notes.append(f"{r['sequences_per_s']:.0f} sequences/s of {r['length_bp']} bp")
        if "ari_vs_graph" in r:
            notes.append(f"ARI vs graph {r['ari_vs_graph']:.3f} (graph vs truth {r['graph_ari_vs_truth']:.3f})")
        if "k" in r:
            notes.append(f"k={r['k']}, {r['graph_edges']} edges")
        cells = [f"{r.get(key, float('nan')):>9.2f}" for key in ("knn_s", "bin_s", "total_s")]
        cells += [f"{r.get(key, float('nan')):>9.0f}" for key in ("peak_rss_mb", "extra_mb")]
        cells += [f"{r.get('ari_vs_truth', float('nan')):>9.3f}", f"{r.get('n_bins', ''):>7}",
                  f"{r.get('unbinned_fraction', float('nan')):>9.2f}",
                  f"{r.get('n_f1_above_0_5', ''):>7}", f"{r.get('n_f1_above_0_9', ''):>7}"]
        lines.append(f"{r['case']:<18}{r['n']:>9}" + "".join(cells) + "  " + "; ".join(notes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=max(SIZES), help="largest graph-binner size to run")
    parser.add_argument("--k", type=int, default=50, help="neighbours per sequence of the graph binner")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--device", default="cpu", help="torch device of the kNN graph (cpu or cuda)")
    parser.add_argument("--knn-backends", default="exact,faiss",
                        help="comma-separated kNN backends of the graph binner (exact, faiss)")
    parser.add_argument("--exact-max-n", type=int, default=100_000,
                        help="largest n for the exact kNN backend (O(n^2) time)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    parser.add_argument("--child", choices=["graph", "kmedoid"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(limits=args.threads)
    if args.child:
        print(json.dumps(run_case(args.child, args.n, args.k, args.device, args.knn_backends)))
        return
    rows = tnf_throughput()
    rows.append(_child("kmedoid", KMEDOID_N, args.k, args.device, args.threads))
    for n in SIZES:
        for backend in args.knn_backends.split(","):
            if n <= args.max_n and (backend != "exact" or n <= args.exact_max_n):
                rows.append(_child("graph", n, args.k, args.device, args.threads, backend))
    print(_table(rows))
    if args.json is not None:
        from biocl.utils.io import write_json

        write_json(args.json, {"threads": args.threads, "device": args.device, "rows": rows})


if __name__ == "__main__":
    main()
