"""Clips per second through the compact audio encoder on CPU, in training and in inference.

Usage::

    python benchmarks/bench_audio.py [--clip-s 1 2] [--batch-size 32] [--threads 1] [--json out.json]

For each clip length (1 s: a single sound; 2 s: an "A before B" join) it times the audio
encoder with its projection at the quick protocol's settings (16 kHz, 48 mels, 20 ms hop,
channels 16/32/64): ``inference`` is a forward pass in evaluation mode without gradients;
``train`` is forward + backward + an Adam step through every layer; ``train (TeminAL)``
only through the layers post-training trains (``audio.fc``, ``audio_projection``), the
convolutions frozen. Each figure is the best of ``--repeats`` timed runs after a warm-up.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: the first call allocates and picks kernels
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip-s", type=float, nargs="+", default=[1.0, 2.0], help="clip lengths, seconds")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per step")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timed runs")
    parser.add_argument("--sample-rate", type=int, default=16000, help="Hz")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    from biocl.encoders.audio import LogMelCNN
    from biocl.heads.projection import ProjectionHead

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = LogMelCNN(sample_rate_hz=args.sample_rate, n_mels=48, n_fft=512, hop_length=320,
                        channels=(16, 32, 64), time_bins=4, hidden_dim=128, output_dim=128)
    projection = ProjectionHead(128, None, 64, bias=True)
    model = torch.nn.Sequential(encoder, projection)
    rng = np.random.default_rng(0)
    rows = []
    for clip_s in args.clip_s:
        batch = torch.from_numpy((0.1 * rng.standard_normal((args.batch_size, int(clip_s * args.sample_rate))))
                                 .astype(np.float32))

        def infer() -> None:
            model.eval()
            with torch.no_grad():
                model(batch)

        def make_train(prefixes: tuple[str, ...] | None):
            params = [p for n, p in model.named_parameters()
                      if prefixes is None or n.startswith(prefixes)]
            optimizer = torch.optim.Adam(params, lr=1e-4)

            def train() -> None:
                model.train()
                for name, p in model.named_parameters():
                    p.requires_grad_(prefixes is None or name.startswith(prefixes))
                optimizer.zero_grad(set_to_none=True)
                model(batch).square().mean().backward()
                optimizer.step()
            return train

        for mode, fn in (("inference", infer), ("train", make_train(None)),
                         ("train (TeminAL)", make_train(("0.fc.", "1.")))):
            seconds = _best_seconds(fn, args.repeats)
            rows.append({"clip_s": clip_s, "mode": mode, "batch_size": args.batch_size,
                         "clips_per_s": args.batch_size / seconds,
                         "audio_s_per_s": args.batch_size * clip_s / seconds})
    parameters = sum(p.numel() for p in model.parameters())
    print(f"compact audio encoder + projection ({parameters:,} parameters), {args.threads} thread(s), "
          f"{platform.processor() or platform.machine()}")
    print(f"{'clip':>6} {'mode':<16} {'clips/s':>10} {'audio s/s':>10}")
    for row in rows:
        print(f"{row['clip_s']:>5.1f}s {row['mode']:<16} {row['clips_per_s']:>10.1f} {row['audio_s_per_s']:>10.1f}")
    if args.json is not None:
        from biocl.utils.io import write_json

        write_json(args.json, {"benchmark": "audio_encoder", "threads": args.threads, "parameters": parameters,
                               "torch": torch.__version__, "platform": platform.platform(), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
