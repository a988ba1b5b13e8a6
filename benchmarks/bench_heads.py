"""Contrastive heads benchmark: forward + backward time of each loss at the papers' batch sizes.

Prints one row per loss: the shapes, milliseconds per forward + backward on CPU (median of
``--repeats``), and with ``--world 2`` the same for the gathered loss on 2 gloo processes
(each holding half the batch), which shows the cost of exact distributed negatives.

Run ``python benchmarks/bench_heads.py [--threads N] [--repeats N] [--world 1|2]``. On a
shared machine the numbers fall with the other load: report the load next to them.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing

from biocl.heads.losses import ClipLoss, MIMixLoss, SupConLoss, TNCELoss, WeightedInfoNCELoss

Case = tuple[str, Callable[[], torch.nn.Module], Callable[[torch.Generator, int], tuple]]


def _embeddings(n: int, d: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(n, d, generator=generator).requires_grad_()


CASES: list[Case] = [
    # brainmagick: batch 256, wav2vec features (1024) x time flattened would dominate; 1024-d here
    ("clip candidates (brainmagick)", lambda: ClipLoss("candidates", init_log_scale=None),
     lambda g, n: (_embeddings(n, 1024, g), _embeddings(n, 1024, g))),
    ("clip both symmetric, learnable scale", lambda: ClipLoss("both", symmetric=True, learnable_scale=True),
     lambda g, n: (_embeddings(n, 1024, g), _embeddings(n, 1024, g))),
    ("weighted infonce (DNABERT-S I)", lambda: WeightedInfoNCELoss(),
     lambda g, n: (_embeddings(n, 128, g), _embeddings(n, 128, g))),
    ("mimix (DNABERT-S II)", lambda: MIMixLoss(),
     lambda g, n: (_embeddings(n, 128, g), _embeddings(n, 128, g), 0.5 + 0.5 * torch.rand(n, generator=g),
                   torch.randperm(n, generator=g))),
    ("tnce (TeminAL B)", lambda: TNCELoss(a_same=1.0, a_cross=0.5),
     lambda g, n: (_embeddings(3 * n, 1024, g), _embeddings(3 * n, 1024, g),
                   torch.cat([torch.arange(n) + n, torch.arange(n), torch.full((n,), -1)]))),
    ("supcon", lambda: SupConLoss(), lambda g, n: (torch.randn(n, 2, 128, generator=g).requires_grad_(),
                                                    torch.randint(0, 10, (n,), generator=g))),
]
BATCH = {"clip candidates (brainmagick)": 256, "clip both symmetric, learnable scale": 256,
         "weighted infonce (DNABERT-S I)": 48, "mimix (DNABERT-S II)": 48, "tnce (TeminAL B)": 32, "supcon": 256}


def time_cases(rank: int, world_size: int, repeats: int) -> dict[str, float]:
    """Median milliseconds of forward + backward per case, for this rank's share of the batch."""
    timings = {}
    for name, make_loss, make_inputs in CASES:
        loss_fn = make_loss()
        generator = torch.Generator().manual_seed(rank)
        inputs = make_inputs(generator, BATCH[name] // world_size)
        samples = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            loss_fn(*inputs).backward()
            samples.append(time.perf_counter() - started)
        timings[name] = 1000 * statistics.median(samples[1:])
    return timings


def _worker(rank: int, world_size: int, port: int, threads: int, repeats: int,
            queue: torch.multiprocessing.Queue) -> None:
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=300))
    try:
        timings = time_cases(rank, world_size, repeats)
        if rank == 0:
            queue.put(timings)
    finally:
        dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--world", type=int, default=1, choices=(1, 2))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    local = time_cases(0, 1, args.repeats)
    gathered = None
    if args.world > 1:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        context = torch.multiprocessing.get_context("spawn")
        queue = context.Queue()
        torch.multiprocessing.start_processes(_worker, args=(args.world, port, args.threads, args.repeats, queue),
                                              nprocs=args.world, start_method="spawn")
        gathered = queue.get()
    header = f"{'loss':40s} {'batch':>6s} {'1 process ms':>13s}"
    if gathered:
        header += f" {f'{args.world} processes ms':>15s}"
    print(f"threads per process: {args.threads}, repeats: {args.repeats}")
    print(header)
    for name in local:
        row = f"{name:40s} {BATCH[name]:6d} {local[name]:13.2f}"
        if gathered:
            row += f" {gathered[name]:15.2f}"
        print(row)
    if args.json is not None:
        from biocl.utils.io import write_json

        rows = [{"loss": name, "batch": BATCH[name], "ms_1_process": local[name],
                 **({f"ms_{args.world}_processes": gathered[name]} if gathered else {})} for name in local]
        write_json(args.json, {"benchmark": "heads", "threads": args.threads, "repeats": args.repeats,
                               "world": args.world, "rows": rows})


if __name__ == "__main__":
    main()
