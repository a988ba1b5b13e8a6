"""Training-step time of biocl's and brainmagick's SimpleConv on one CUDA GPU, batch 256.

Paper width (208 sensors, 270 heads, 320 hidden, 5 blocks, F = 1024, 27 subjects, CLIP
loss, Adam), as in ``bench_brain_vs_brainmagick.py`` whose model building it reuses, in
fp32, under bf16 autocast, and under bf16 autocast with ``torch.compile``. Contenders
alternate in rounds so that clock or thermal drift hits all of them; each round times
``--steps`` steps between two ``torch.cuda.synchronize()``. A deadline (``--budget-s``,
default 240 s) stops starting new rounds so the whole script stays under five minutes;
compilation happens in the warm-up, before the clock.

Run on a machine with a GPU::

    BRAINMAGICK_DIR=/path/to/brainmagick python benchmarks/gpu_brain_step.py [--batch 256]

Without CUDA or without ``BRAINMAGICK_DIR`` it prints one line and exits 0. Prints one row
per contender: median ms per step, windows/s, and the ratio to brainmagick in the same mode.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def _bench_module():
    """The side-by-side CPU benchmark, loaded by path (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_brain_vs_brainmagick", HERE / "bench_brain_vs_brainmagick.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed_steps(contender, steps: int, device: str) -> float:
    """Seconds per step over ``steps`` steps, synchronised at both ends."""
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        contender.step()
    _synchronize(device)
    return (time.perf_counter() - started) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10, help="steps per contender per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget-s", type=float, default=240.0)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--width", choices=("paper", "quick"), default="paper")
    parser.add_argument("--device", default="cuda", help="cpu only to check this script on a tiny run")
    args = parser.parse_args()
    root = os.environ.get("BRAINMAGICK_DIR")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: no CUDA device visible to torch")
        return 0
    if not root or not (Path(root) / "bm" / "models" / "simpleconv.py").is_file():
        print("skipped: set BRAINMAGICK_DIR to a checkout of github.com/facebookresearch/brainmagick")
        return 0
    deadline = time.monotonic() + args.budget_s
    device = args.device
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 on both sides
    torch.backends.cudnn.allow_tf32 = False
    bench = _bench_module()
    bm = bench.load_brainmagick(Path(root))
    contenders = bench.build(args.width, bm, (False, True), device=device, batch=args.batch)
    if not args.no_compile:
        for compiled in bench.build(args.width, bm, (True,), device=device, batch=args.batch):
            compiled.name += " compile"
            # build()'s forward closures take the module as their one (default) argument.
            compiled.forward = functools.partial(compiled.forward, torch.compile(compiled.model))
            contenders.append(compiled)
    name = torch.cuda.get_device_name() if device == "cuda" else device
    print(f"SimpleConv training step on {name}: torch {torch.__version__}, batch {args.batch}, "
          f"{args.width} width ({contenders[0].parameters() / 1e6:.2f} M parameters)")
    for contender in contenders:
        started = time.perf_counter()
        try:
            for _ in range(3):
                contender.step()
            _synchronize(device)
        except Exception as err:  # noqa: BLE001 (a compiler failure must not hide the other numbers)
            print(f"  {contender.name}: failed in warm-up ({type(err).__name__}: {str(err)[:200]}), left out")
            contender.rates = None
            continue
        print(f"  warm-up {contender.name:<26} {time.perf_counter() - started:6.1f} s", flush=True)
    live = [c for c in contenders if c.rates is not None]
    for _ in range(args.rounds):
        if time.monotonic() > deadline:
            print("  deadline reached: fewer rounds than asked")
            break
        for contender in live:
            contender.rates.append(_timed_steps(contender, args.steps, device))
    print(f"  {'contender':<28}{'ms/step':>10}{'windows/s':>12}{'vs brainmagick':>16}")
    medians = {c.name: statistics.median(c.rates) for c in live if c.rates}
    for name, seconds in medians.items():
        reference = medians.get(name.replace("biocl", "brainmagick"))
        ratio = f"{reference / seconds:>15.2f}x" if reference and name.startswith("biocl") else ""
        print(f"  {name:<28}{seconds * 1000:>10.1f}{args.batch / seconds:>12.0f}{ratio:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
