"""Brain-to-speech benchmark: SimpleConv training throughput and the feature cache.

Prints a table of

* training throughput (brain windows per second, forward + backward + Adam step with the
  CLIP loss) of SimpleConv at the quick protocol's width and at the paper's width, on CPU,
  for 157-sensor (KIT) windows of 3 s at 120 Hz;
* the speech-feature cache: the first computation of mel features of a stimulus file
  versus the second (read back from disk).

Run ``python benchmarks/bench_brain.py [--threads N] [--steps N]``. On a shared machine
the numbers fall with the other load: report the load next to them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from biocl.data.speech.cache import FeatureCache
from biocl.data.speech.features import mel_features
from biocl.encoders.brain import SimpleConv
from biocl.heads.losses import ClipLoss

WIDTHS = {
    # name: (n_heads, hidden, n_blocks, n_freqs, output features, batch)
    "quick": (64, 64, 2, 16, 40, 64),
    "paper": (270, 320, 5, 32, 1024, 16),
}


def throughput(name: str, steps: int, n_channels: int = 157, n_times: int = 361) -> tuple[float, int]:
    """Windows per second of training steps at width ``name``, and the parameter count."""
    heads, hidden, blocks, freqs, features, batch = WIDTHS[name]
    generator = torch.Generator().manual_seed(0)
    model = SimpleConv(n_subjects=4, output_dim=features, n_heads=heads, hidden=hidden, n_blocks=blocks,
                       n_freqs=freqs).train()
    loss_fn = ClipLoss(normalize="candidates", init_log_scale=None)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    brain = torch.randn(batch, n_channels, n_times, generator=generator)
    speech = torch.randn(batch, features, n_times, generator=generator)
    subjects = torch.randint(0, 4, (batch,), generator=generator)
    positions = torch.rand(batch, n_channels, 2, generator=generator)
    mask = torch.ones(batch, n_channels, dtype=torch.bool)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = model(brain, subjects, positions, mask, generator=generator)
        loss_fn(out.flatten(1), speech.flatten(1)).backward()
        optimizer.step()

    step()  # warm-up: allocations and kernel selection
    started = time.perf_counter()
    for _ in range(steps):
        step()
    elapsed = time.perf_counter() - started
    return steps * batch / elapsed, sum(p.numel() for p in model.parameters())


def feature_cache(duration_s: float = 60.0) -> tuple[float, float]:
    """Seconds to get mel features of a ``duration_s`` file: first (computed) and second (cached)."""
    rng = np.random.default_rng(0)
    wave = torch.from_numpy(rng.normal(size=int(duration_s * 16000)).astype(np.float32) * 0.1)
    with tempfile.TemporaryDirectory() as folder:
        cache = FeatureCache(Path(folder))
        key = {"name": "bench_brain.mel", "version": 1, "duration_s": duration_s}
        times = []
        for _ in range(2):
            started = time.perf_counter()
            cache.get_or_compute(key, lambda: mel_features(wave, 16000, n_mels=120))
            times.append(time.perf_counter() - started)
        assert cache.hits == 1 and cache.misses == 1
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the measures as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"brain-to-speech benchmark: torch {torch.__version__}, {args.threads} thread(s), "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'measure':<44}{'value':>14}")
    rows = []
    for name in WIDTHS:
        rate, params = throughput(name, args.steps)
        heads, hidden, blocks, _, features, batch = WIDTHS[name]
        label = f"train {name} ({heads}/{hidden}x{blocks}, F={features}, B={batch})"
        print(f"{label:<44}{rate:>10.1f} w/s   ({params / 1e6:.2f} M parameters)")
        rows.append({"measure": label, "windows_per_s": rate, "parameters": params})
    first, second = feature_cache()
    print(f"{'mel features of 60 s audio, first run':<44}{first * 1000:>10.1f} ms")
    print(f"{'mel features of 60 s audio, second run':<44}{second * 1000:>10.1f} ms   (x{first / second:.0f})")
    rows.append({"measure": "mel features of 60 s audio, first run", "ms": first * 1000})
    rows.append({"measure": "mel features of 60 s audio, second run (cached)", "ms": second * 1000})
    if args.json is not None:
        from biocl.utils.io import write_json

        write_json(args.json, {"benchmark": "brain", "threads": args.threads, "steps": args.steps,
                               "load_average": load, "rows": rows})


if __name__ == "__main__":
    main()
