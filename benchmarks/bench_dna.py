"""Sequences embedded per second on CPU by the default DNA encoder (10 kb inputs), beside TNF.

Usage::

    python benchmarks/bench_dna.py [--n 64] [--length-bp 10000] [--threads 2] [--json out.json]

Prints one table row per feature extractor: sequences per second and base pairs per second.
The encoder is untrained (speed does not depend on the weights); ``both strands`` is the
evaluation setting (the reverse complement is embedded too), ``one strand`` the training one.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch


def _random_sequences(n: int, length_bp: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    return [letters[rng.integers(0, 4, size=length_bp)].tobytes().decode() for _ in range(n)]


def _rate(fn, sequences: list[str], repeats: int) -> float:
    fn(sequences[:2])  # warm-up: first calls allocate and pick kernels
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn(sequences)
        best = min(best, time.perf_counter() - started)
    return len(sequences) / best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="sequences per measurement")
    parser.add_argument("--length-bp", type=int, default=10_000, help="sequence length (bp)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    from biocl.data.dna.tnf import TNF, CanonicalTNF
    from biocl.encoders.dna import DnaConvEncoder, embed_sequences

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sequences = _random_sequences(args.n, args.length_bp, seed=0)
    encoder = DnaConvEncoder().eval()
    one_strand = DnaConvEncoder(both_strands=False).eval()
    one_strand.load_state_dict(encoder.state_dict())
    extractors = {
        "dna_conv (both strands)": lambda s: embed_sequences(encoder, s, window_bp=10_000, batch_size=args.batch_size),
        "dna_conv (one strand)": lambda s: embed_sequences(one_strand, s, window_bp=10_000,
                                                           batch_size=args.batch_size),
        "TNF (256)": lambda s: TNF().fit_transform(s),
        "canonical TNF (136)": lambda s: CanonicalTNF().fit_transform(s),
    }
    rows = []
    for name, fn in extractors.items():
        per_second = _rate(fn, sequences, args.repeats)
        rows.append({"features": name, "sequences_per_s": per_second, "bp_per_s": per_second * args.length_bp})
    print(f"{args.n} random sequences of {args.length_bp} bp, {args.threads} torch threads, "
          f"{platform.processor() or platform.machine()}")
    print(f"{'features':<26} {'seq/s':>10} {'Mbp/s':>10}")
    for row in rows:
        print(f"{row['features']:<26} {row['sequences_per_s']:>10.1f} {row['bp_per_s'] / 1e6:>10.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"n": args.n, "length_bp": args.length_bp, "threads": args.threads,
                                         "encoder_parameters": sum(p.numel() for p in encoder.parameters()),
                                         "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
