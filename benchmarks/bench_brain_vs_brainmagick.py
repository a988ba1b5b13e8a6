"""biocl's SimpleConv against brainmagick's, side by side in one process.

Both models are built at the same width from the same random inputs and trained with the
CLIP loss and Adam; rounds of training steps alternate between them so that a change of
load on the machine hits both. Prints each side's windows per second per round, the
median over the rounds, and the ratio biocl / brainmagick.

brainmagick is not a dependency of biocl: its ``SimpleConv`` (``bm/models/simpleconv.py``,
``bm/models/common.py``) and ``ClipLoss`` (``bm/losses.py``) are loaded by path from a local
checkout named by ``BRAINMAGICK_DIR`` (``git clone https://github.com/facebookresearch/brainmagick``
into a folder outside the project); the few ``bm`` modules they import that play no part
in these models (study recordings) are stubbed here. Without the variable the benchmark
prints one line and exits 0.

The paper's width is the ``clip_conv`` configuration of brainmagick (``bm/conf/model/clip_conv.yaml``):
208 sensors, 270 spatial-attention heads over a 2 x 32**2 Fourier embedding, a 270 -> 270
initial 1x1 convolution, subject layers for 27 subjects, 10 dilated convolutions of 320
channels (5 of our blocks) with a GLU after every second one, a 640-wide head to F = 1024;
9.57 M parameters on both sides. brainmagick reads sensor positions from MNE layouts of
its recordings; here both sides get the same layout (one recording: every window of the
batch shares it).

Run::

    BRAINMAGICK_DIR=/path/to/brainmagick python benchmarks/bench_brain_vs_brainmagick.py \
        [--width paper|quick|both] [--rounds 5] [--steps 1] [--threads 2] [--bf16]

``--bf16`` adds a second pair of contenders trained under CPU bf16 autocast (both sides),
where the processor has native bf16 (AVX512-BF16 / AMX); the fp32 pair is the comparison at
equal maths.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import types
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch

from biocl.encoders.brain import SimpleConv
from biocl.heads.losses import ClipLoss

WIDTHS = {
    # name: (sensors, n_heads, hidden, n_blocks, n_freqs, output features, batch, subjects)
    "paper": (208, 270, 320, 5, 32, 1024, 32, 27),
    "quick": (157, 64, 64, 2, 16, 40, 64, 4),
}
N_TIMES = 361  # 3 s at 120 Hz


def load_brainmagick(root: Path) -> types.SimpleNamespace:
    """``SimpleConv`` and ``ClipLoss`` from the brainmagick checkout at ``root``, loaded by path."""
    for name in ("bm", "bm.models", "bm.studies"):
        package = types.ModuleType(name)
        package.__path__ = []  # a namespace for the modules loaded below, nothing else
        sys.modules.setdefault(name, package)
    api = types.ModuleType("bm.studies.api")
    api.Recording = type("Recording", (), {})  # only a type annotation in the code we run
    sys.modules.setdefault("bm.studies.api", api)
    for optional in ("mne", "torchaudio"):  # imported at the top, unused by these models
        if importlib.util.find_spec(optional) is None:
            sys.modules[optional] = types.ModuleType(optional)
    modules = {}
    for name, relative in (("bm.models.common", "bm/models/common.py"),
                           ("bm.models.simpleconv", "bm/models/simpleconv.py"), ("bm.losses", "bm/losses.py")):
        spec = importlib.util.spec_from_file_location(name, root / relative)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return types.SimpleNamespace(SimpleConv=modules["bm.models.simpleconv"].SimpleConv,
                                 ClipLoss=modules["bm.losses"].ClipLoss)


class Contender:
    """One model, its loss and optimiser, and a training step on fixed inputs."""

    def __init__(self, name: str, model: torch.nn.Module, forward: Callable[[], torch.Tensor],
                 loss: Callable[[torch.Tensor], torch.Tensor], bf16: bool = False, device_type: str = "cpu"):
        self.name = name
        self.model = model.train()
        self.forward = forward
        self.loss = loss
        self.bf16 = bf16
        self.device_type = device_type
        self.optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
        self.rates: list[float] = []

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        context = torch.autocast(self.device_type, dtype=torch.bfloat16) if self.bf16 else nullcontext()
        with context:
            out = self.forward()
        self.loss(out.float()).backward()
        self.optimizer.step()

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def build(width: str, bm: types.SimpleNamespace, precisions: tuple[bool, ...] = (False,),
          device: str = "cpu", batch: int | None = None) -> list[Contender]:
    """brainmagick and biocl at ``width`` on the same inputs, one pair per precision (bf16 or not)."""
    sensors, heads, hidden, blocks, freqs, features, default_batch, subjects = WIDTHS[width]
    batch = batch or default_batch
    generator = torch.Generator().manual_seed(0)
    brain = torch.randn(batch, sensors, N_TIMES, generator=generator).to(device)
    speech = torch.randn(batch, features, N_TIMES, generator=generator).to(device)
    subject = torch.randint(0, subjects, (batch,), generator=generator).to(device)
    positions = torch.rand(sensors, 2, generator=generator).expand(batch, -1, -1).to(device)
    mask = torch.ones(batch, sensors, dtype=torch.bool, device=device)
    bm_batch = types.SimpleNamespace(subject_index=subject)
    bm_loss = bm.ClipLoss()
    ours_loss = ClipLoss(normalize="candidates", init_log_scale=None, gather=False)
    device_type = torch.device(device).type
    contenders = []
    for half in precisions:
        suffix = " bf16" if half else ""
        # brainmagick draws its initialisation and spatial-dropout centres from the global
        # generator; seeding it keeps the two runs of this benchmark alike.
        torch.manual_seed(0)
        theirs = bm.SimpleConv(
            in_channels={"meg": sensors}, out_channels=features, hidden={"meg": hidden}, depth=2 * blocks,
            batch_norm=True, dilation_period=5, kernel_size=3, skip=True, subject_layers=True, subject_dim=0,
            complex_out=True, glu=2, glu_context=1, merger=True, merger_channels=heads,
            merger_pos_dim=2 * freqs**2, merger_dropout=0.2, initial_linear=heads, gelu=True,
            n_subjects=subjects).to(device)
        theirs.merger.position_getter.get_positions = lambda batch: positions
        contenders.append(Contender(f"brainmagick{suffix}", theirs, lambda m=theirs: m({"meg": brain}, bm_batch),
                                    lambda out: bm_loss(out, speech, mask=torch.ones(1, dtype=torch.bool)),
                                    half, device_type))
        ours = SimpleConv(n_subjects=subjects, output_dim=features, n_heads=heads, hidden=hidden, n_blocks=blocks,
                          n_freqs=freqs, spatial_dropout_radius=0.2).to(device)
        step_generator = torch.Generator().manual_seed(1)
        contenders.append(Contender(f"biocl{suffix}", ours,
                                    lambda m=ours, g=step_generator: m(brain, subject, positions, mask, generator=g),
                                    lambda out: ours_loss(out.flatten(1), speech.flatten(1)), half, device_type))
    return contenders


def compare(width: str, bm: types.SimpleNamespace, rounds: int, steps: int, bf16: bool) -> dict[str, float]:
    """Interleaved rounds at ``width``; prints the table and returns median windows/s per contender."""
    contenders = build(width, bm, (False, True) if bf16 else (False,))
    batch = WIDTHS[width][6]
    counts = {c.name: c.parameters() for c in contenders}
    print(f"\n{width} width, batch {batch}: parameters "
          + ", ".join(f"{name} {count / 1e6:.3f} M" for name, count in counts.items()))
    if len(set(counts.values())) != 1:
        print("  warning: the parameter counts differ, the models are not the same")
    for contender in contenders:
        contender.step()  # warm-up: allocations, kernel choice
    print(f"  {'round':<8}" + "".join(f"{c.name:>18}" for c in contenders) + "   (windows/s)")
    for k in range(rounds):
        for contender in contenders:
            started = time.perf_counter()
            for _ in range(steps):
                contender.step()
            contender.rates.append(steps * batch / (time.perf_counter() - started))
        print(f"  {k + 1:<8}" + "".join(f"{c.rates[-1]:>18.2f}" for c in contenders), flush=True)
    medians = {c.name: statistics.median(c.rates) for c in contenders}
    print(f"  {'median':<8}" + "".join(f"{medians[c.name]:>18.2f}" for c in contenders))
    for suffix in ("", " bf16") if bf16 else ("",):
        ratio = medians[f"biocl{suffix}"] / medians[f"brainmagick{suffix}"]
        print(f"  ratio biocl{suffix} / brainmagick{suffix}: {ratio:.2f}")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", choices=[*WIDTHS, "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1, help="training steps per contender per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="also compare both under CPU bf16 autocast")
    parser.add_argument("--json", type=Path, default=None, help="also write the medians as JSON here")
    args = parser.parse_args()
    root = os.environ.get("BRAINMAGICK_DIR")
    rows: list[dict[str, object]] = []
    document = {"benchmark": "brain_vs_brainmagick", "threads": args.threads, "rounds": args.rounds,
                "steps": args.steps, "rows": rows}
    if not root or not (Path(root) / "bm" / "models" / "simpleconv.py").is_file():
        print("skipped: set BRAINMAGICK_DIR to a checkout of github.com/facebookresearch/brainmagick")
        if args.json is not None:
            _write_json(args.json, {**document, "skipped": "BRAINMAGICK_DIR not set"})
        return
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"biocl vs brainmagick SimpleConv: torch {torch.__version__}, {args.threads} thread(s), "
          f"load average {load:.1f} on {os.cpu_count()} cores, {args.rounds} rounds x {args.steps} step(s)")
    bm = load_brainmagick(Path(root))
    for width in WIDTHS if args.width == "both" else (args.width,):
        medians = compare(width, bm, args.rounds, args.steps, args.bf16)
        rows += [{"measure": f"{width} width, {name}", "windows_per_s": rate} for name, rate in medians.items()]
        rows += [{"measure": f"{width} width, ratio {name} / brainmagick{name[5:]}",
                  "ratio": medians[name] / medians[f"brainmagick{name[5:]}"]}
                 for name in medians if name.startswith("biocl")]
    document["load_average_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if args.json is not None:
        _write_json(args.json, document)


def _write_json(path: Path, document: dict) -> None:
    from biocl.utils.io import write_json

    write_json(path, document)


if __name__ == "__main__":
    main()
