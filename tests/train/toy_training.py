"""A toy training job for the trainer tests: a small MLP regressing fixed random data (MSE).

Imported by the tests (through the ``toy`` fixture) and run as a script by the
kill-and-resume and torchrun tests::

    python tests/train/toy_training.py RUN_DIR [--epochs 3,3] [--sleep-s 0.05] [--resume]
    torchrun --standalone --nproc_per_node=2 tests/train/toy_training.py RUN_DIR --optimizer sgd
    torchrun --standalone --nproc_per_node=2 tests/train/toy_training.py - --via-run-protocol

Every optimiser step takes one global minibatch of ``batch_size`` items from the epoch's
permutation and each rank takes its shard ``minibatch[rank::world_size]``; with equal shards
and a mean loss, DDP's averaged gradient equals the single-process gradient of the minibatch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch import nn

N_ITEMS = 64
N_FEATURES = 4


def make_model(seed: int = 0) -> nn.Module:
    """A two-layer MLP; the initial weights depend on ``seed`` only."""
    from biocl.train import seed_everything

    seed_everything(seed)
    return nn.Sequential(nn.Linear(N_FEATURES, 8), nn.Tanh(), nn.Linear(8, 1))


def make_data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed inputs ``(N_ITEMS, N_FEATURES)`` and noisy linear targets ``(N_ITEMS, 1)``."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(N_ITEMS, N_FEATURES, generator=generator)
    targets = inputs @ torch.randn(N_FEATURES, 1, generator=generator) + 0.1 * torch.randn(N_ITEMS, 1, generator=generator)
    return inputs, targets


def make_batches(inputs: torch.Tensor, targets: torch.Tensor):
    """A batch function: a permutation per epoch, global minibatches, sharded by rank."""

    def batches(ctx):
        order = torch.as_tensor(ctx.generator.permutation(len(inputs)))
        out = []
        for start in range(0, len(order) - ctx.batch_size + 1, ctx.batch_size):
            shard = order[start:start + ctx.batch_size][ctx.rank::ctx.world_size]
            out.append((inputs[shard], targets[shard]))
        return out

    return batches


def make_step(sleep_s: float = 0.0, noise: float = 0.0):
    """A step function: MSE, optionally slowed down and with input noise from ``ctx.generator``."""

    def step(model, batch, ctx):
        if sleep_s:
            time.sleep(sleep_s)
        x, y = batch
        if noise:
            x = x + noise * torch.randn(x.shape, generator=ctx.generator).to(x.device)
        loss = nn.functional.mse_loss(model(x), y)
        return loss, {"batch_items": float(len(x))}

    return step


def make_validate(inputs: torch.Tensor, targets: torch.Tensor):
    """A validate function: MSE on the whole data set."""

    def validate(model):
        device = next(model.parameters()).device
        return {"mse": float(nn.functional.mse_loss(model(inputs.to(device)), targets.to(device)))}

    return validate


def phase_specs(phases, *, sleep_s: float = 0.0, noise: float = 0.0, monitor: str | None = "mse"):
    """PhaseSpecs for the given protocol phases, all on the toy data."""
    from biocl.train import PhaseSpec

    inputs, targets = make_data()
    return [PhaseSpec(phase=phase, step=make_step(sleep_s, noise), batches=make_batches(inputs, targets),
                      validate=make_validate(inputs, targets) if monitor else None, monitor=monitor, mode="min")
            for phase in phases]


def make_protocol(train):
    """A minimal protocol object for a RunContext (built without the pipelines' sections)."""
    from biocl.protocols.base import Acceptance, Protocol, Section

    return Protocol.model_construct(
        name="toy", version="1", pipeline="dna_species", description="", intended_use="",
        out_of_scope_use="", limitations=[], seed=0, data=Section(), model=Section(), loss=Section(),
        evaluate=Section(), train=train, acceptance=Acceptance(metric="mse", comparison="<=", threshold=1.0),
        source_path=None, sha256=None)


def default_phases(epochs: list[int], batch_size: int = 16, last_trainable: list[str] | None = None):
    """Phases ``p0, p1, ...`` with the given epochs; later phases start from the previous best.

    ``last_trainable`` restricts the last phase to those parameter-name prefixes.
    """
    from biocl.protocols.base import Phase

    return [Phase(name=f"p{index}", epochs=count, batch_size=batch_size,
                  init_from="none" if index == 0 else "previous",
                  trainable=last_trainable if index == len(epochs) - 1 else None)
            for index, count in enumerate(epochs)]


def run_torchrun(args: list[str], *, cwd: Path | None = None, timeout_s: float = 300):
    """``torchrun --standalone --nproc_per_node=2 toy_training.py ARGS``, quiet, one thread per process.

    torchrun picks a free port and then lets it go; another process on a busy machine can
    take it first, so a launch that fails only for that reason is tried once more.
    """
    import os
    import subprocess

    command = [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node=2",
               str(Path(__file__).resolve()), *args]
    env = {**os.environ, "BIOCL_QUIET": "1", "OMP_NUM_THREADS": "1"}
    for _ in range(2):
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, env=env)
        if done.returncode == 0 or "EADDRINUSE" not in done.stderr and "ddress already in use" not in done.stderr:
            break
    return done


def install_toy_pipeline(epochs: list[int]) -> None:
    """Make ``run_protocol`` run the toy training for protocols of pipeline ``dna_species``."""

    from biocl import pipelines
    from biocl.pipelines.runs import PipelineResult
    from biocl.train import Trainer

    def run(protocol, run_context):
        model = make_model()
        result = Trainer(model, protocol.train, run=run_context, seed=protocol.seed).fit(
            phase_specs(default_phases(epochs)))
        mse = result.history[-1]["mse"]
        return PipelineResult(metrics={"mse": mse}, baselines={}, data={"simulated": True},
                              details={"device": "cpu", "steps": result.steps})

    pipelines.PIPELINES["dna_species"] = run


def main(argv: list[str] | None = None) -> int:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--epochs", default="3,3", help="epochs per phase, comma separated")
    parser.add_argument("--sleep-s", type=float, default=0.0)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--optimizer", default="adam")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--last-trainable", default=None, help="prefixes the last phase trains, comma separated")
    parser.add_argument("--via-run-protocol", action="store_true",
                        help="go through biocl.pipelines.run_protocol (run_dir '-' = its default folder)")
    args = parser.parse_args(argv)
    epochs = [int(n) for n in args.epochs.split(",")]
    if args.via_run_protocol:
        from biocl.pipelines import run_protocol
        from biocl.protocols.base import TrainConfig

        install_toy_pipeline(epochs)
        protocol = make_protocol(TrainConfig(lr=0.01, device="cpu"))
        run_dir, results = run_protocol(protocol, None if str(args.run_dir) == "-" else args.run_dir,
                                        resume=args.resume, report=False)
        print(f"{run_dir}: {results['steps']} steps", file=sys.stderr)
        return 0

    from biocl.protocols.base import TrainConfig
    from biocl.pipelines.runs import RunContext
    from biocl.train import Trainer, distributed

    rank, _, _ = distributed.init_from_env("cpu")
    finished = False
    try:
        config = TrainConfig(optimizer=args.optimizer, lr=0.01, schedule="cosine", device="cpu")
        phases = default_phases(epochs, args.batch_size,
                                args.last_trainable.split(",") if args.last_trainable else None)
        model = make_model()
        with RunContext(args.run_dir, make_protocol(config), rank=rank, resume=args.resume) as run:
            result = Trainer(model, config, run=run, seed=0).fit(phase_specs(phases, sleep_s=args.sleep_s,
                                                                              noise=args.noise))
        print(f"rank {rank}: {result.steps} steps", file=sys.stderr)
        finished = True
    finally:
        distributed.destroy(synchronize=finished)
    return 0


if __name__ == "__main__":
    sys.exit(main())
