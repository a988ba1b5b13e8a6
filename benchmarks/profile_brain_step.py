"""Where a SimpleConv training step spends its time on CPU, part by part.

Each part of the model (spatial attention, the initial 1x1 conv, the subject layers, each
convolutional block, the head) and the CLIP loss is timed on its own, forward and backward,
on the very activations it sees inside a full step (captured once with forward hooks).
Prints one row per part: median milliseconds over ``--repeats`` and the share of the sum.

Run ``python benchmarks/profile_brain_step.py [--width paper|quick] [--threads N]``. On a
shared machine absolute wall times move with the load; ``--clock cpu --threads 1`` (process
CPU time) and the shares move much less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from biocl.encoders.brain import SimpleConv
from biocl.heads.losses import ClipLoss

WIDTHS = {
    # name: (sensors, n_heads, hidden, n_blocks, n_freqs, output features, batch, subjects)
    "paper": (208, 270, 320, 5, 32, 1024, 32, 27),
    "quick": (157, 64, 64, 2, 16, 40, 64, 4),
}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = CLOCKS["wall"]


def _time(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        started = CLOCK()
        fn()
        times.append(CLOCK() - started)
    return statistics.median(times)


def _forward_backward(module, *args, grad_inputs: bool = True, **kwargs):
    """A closure running ``module`` forward and backward from a ones output gradient.

    ``grad_inputs``: also the gradient of the floating-point inputs, as a step needs it for
    every part after the first (not for the data and sensor positions).
    """
    args = [a.detach().requires_grad_(grad_inputs and a.is_floating_point()) if torch.is_tensor(a) else a
            for a in args]

    def run() -> None:
        out = module(*args, **kwargs)
        out.backward(torch.ones_like(out))
    return run


def profile(width: str, repeats: int, n_times: int = 361) -> list[tuple[str, float]]:
    """Median seconds (forward + backward) of each part of a training step at ``width``."""
    sensors, heads, hidden, blocks, freqs, features, batch, subjects = WIDTHS[width]
    generator = torch.Generator().manual_seed(0)
    model = SimpleConv(n_subjects=subjects, output_dim=features, n_heads=heads, hidden=hidden,
                       n_blocks=blocks, n_freqs=freqs).train()
    brain = torch.randn(batch, sensors, n_times, generator=generator)
    speech = torch.randn(batch, features, n_times, generator=generator)
    subject = torch.randint(0, subjects, (batch,), generator=generator)
    positions = torch.rand(sensors, 2, generator=generator).expand(batch, -1, -1)
    mask = torch.ones(batch, sensors, dtype=torch.bool)
    seen: dict[str, torch.Tensor] = {}
    parts = [("initial 1x1 conv", model.initial)]
    if model.subject_layers is not None:
        parts.append(("subject layers", model.subject_layers))
    parts += [(f"block {k}", block) for k, block in enumerate(model.blocks)] + [("head", model.head)]

    def capture(name: str):
        def hook(module, inputs, output) -> None:
            seen[name] = inputs[0].detach()
        return hook
    hooks = [module.register_forward_hook(capture(name)) for name, module in parts]
    with torch.no_grad():
        out = model(brain, subject, positions, mask)
    for hook in hooks:
        hook.remove()
    rows = [("spatial attention", _time(_forward_backward(model.spatial, brain, positions, mask, grad_inputs=False,
                                                          generator=generator), repeats))]
    for name, module in parts:
        extra = (subject,) if name == "subject layers" else ()
        rows.append((name, _time(_forward_backward(module, seen[name], *extra), repeats)))
    loss = ClipLoss(normalize="candidates", init_log_scale=None, gather=False)
    estimate = out.detach().requires_grad_(True)
    rows.append(("CLIP loss", _time(lambda: loss(estimate.flatten(1), speech.flatten(1)).backward(), repeats)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", choices=sorted(WIDTHS), default="paper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="cpu: process CPU time, steadier than wall time on a shared machine (use 1 thread)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"SimpleConv step profile, {args.width} width, {args.clock} clock: torch {torch.__version__}, "
          f"{args.threads} thread(s), "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    rows = profile(args.width, args.repeats)
    total = sum(seconds for _, seconds in rows)
    print(f"{'part (forward + backward)':<28}{'ms':>10}{'share':>8}")
    for name, seconds in rows:
        print(f"{name:<28}{seconds * 1000:>10.1f}{seconds / total:>8.1%}")
    print(f"{'sum':<28}{total * 1000:>10.1f}")


if __name__ == "__main__":
    main()
