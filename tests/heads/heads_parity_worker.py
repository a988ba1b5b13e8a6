"""Cases and the worker of the distributed parity test (imported by spawned processes).

A *case* builds the per-rank local inputs of one fixed global batch (float64) and runs one
gathering loss module on them. Each rank embeds its inputs with a replicated linear layer
(the stand-in for an encoder whose gradients DDP averages), computes the module loss,
back-propagates, and the worker collects: the loss averaged over ranks, every rank's input
gradient (gathered), and the replicated parameters' gradients all-reduced with DDP's
convention (the average over ranks). :func:`reference` runs the same module in one process,
without a process group, on the concatenation of the shards.

The test runs this file once per rank (``python heads_parity_worker.py RANK WORLD STORE OUT``),
each rank in its own interpreter with its own log, so a crash names the rank and shows what it
printed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn

from biocl.heads.distributed import gather_no_grad, rank_offset_labels
from biocl.heads.losses import ClipLoss, DCLLoss, MIMixLoss, SupConLoss, TNCELoss, WeightedInfoNCELoss

DIM = 5
N_PAIRS = 8
N_TNCE_PAIRS = 4


@dataclass
class Inputs:
    """One rank's inputs: float tensors that receive gradients, and index/label tensors."""

    floats: dict[str, Tensor]
    indices: dict[str, Tensor]


def _global_floats(seed: int, **shapes: tuple[int, ...]) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(*shape, generator=generator, dtype=torch.float64) for name, shape in shapes.items()}


def _shard(tensors: dict[str, Tensor], rank: int, world_size: int) -> dict[str, Tensor]:
    return {name: t.chunk(world_size)[rank].clone() for name, t in tensors.items()}


def _pair_inputs(seed: int) -> Callable[[int, int], Inputs]:
    def build(rank: int, world_size: int) -> Inputs:
        data = _global_floats(seed, a=(N_PAIRS, DIM), b=(N_PAIRS, DIM))
        return Inputs(_shard(data, rank, world_size), {})
    return build


def _clip_inputs(rank: int, world_size: int) -> Inputs:
    data = _global_floats(11, a=(N_PAIRS, DIM), b=(N_PAIRS, DIM))
    # Segment ids repeat across ranks, so masked false negatives live on other processes.
    ids = torch.arange(N_PAIRS) % 3
    return Inputs(_shard(data, rank, world_size), {"ids": ids.chunk(world_size)[rank].clone()})


def _mimix_inputs(rank: int, world_size: int) -> Inputs:
    data = _global_floats(12, a=(N_PAIRS, DIM), b=(N_PAIRS, DIM))
    n = N_PAIRS // world_size
    generator = torch.Generator().manual_seed(100 + 7 * world_size + rank)
    lam = 0.5 + 0.5 * torch.rand(n, generator=generator, dtype=torch.float64)
    perm = torch.randperm(n, generator=generator)
    return Inputs(_shard(data, rank, world_size), {"lam": lam, "perm": perm})


def _tnce_inputs(rank: int, world_size: int) -> Inputs:
    data = _global_floats(13, a=(3 * N_TNCE_PAIRS, DIM), b=(3 * N_TNCE_PAIRS, DIM))
    pairs = N_TNCE_PAIRS // world_size
    local = {}
    for name, t in data.items():
        # Each rank holds [forward, reversed, overlapped] of its own pairs.
        forward, reversed_, overlapped = t.chunk(3)
        local[name] = torch.cat([block.chunk(world_size)[rank] for block in (forward, reversed_, overlapped)])
    reverse_index = torch.cat([torch.arange(pairs) + pairs, torch.arange(pairs), torch.full((pairs,), -1)])
    return Inputs(local, {"reverse": reverse_index})


def _supcon_inputs(rank: int, world_size: int) -> Inputs:
    data = _global_floats(14, a=(N_PAIRS, 2, DIM))
    labels = torch.tensor([0, 1, 0, 2, 1, 1, 3, 0])
    return Inputs(_shard(data, rank, world_size), {"labels": labels.chunk(world_size)[rank].clone()})


def _run_clip(module: nn.Module, emb: dict[str, Tensor], idx: dict[str, Tensor]) -> Tensor:
    return module(emb["a"], emb["b"], candidate_ids=idx.get("ids"))


CASES: dict[str, tuple[Callable[[], nn.Module], Callable[[int, int], Inputs], Callable[..., Tensor]]] = {
    "clip_both_learnable_scale": (lambda: ClipLoss("both", learnable_scale=True), _pair_inputs(10),
                                  _run_clip),
    "clip_both_symmetric_masked": (lambda: ClipLoss("both", symmetric=True, learnable_scale=True), _clip_inputs,
                                   _run_clip),
    "clip_candidates_masked": (lambda: ClipLoss("candidates", init_log_scale=None), _clip_inputs, _run_clip),
    "clip_candidates_symmetric": (lambda: ClipLoss("candidates", symmetric=True, init_log_scale=None),
                                  _pair_inputs(15), _run_clip),
    "weighted_infonce": (lambda: WeightedInfoNCELoss(tau=0.1), _pair_inputs(16),
                         lambda m, e, i: m(e["a"], e["b"])),
    "mimix_local_permutations": (lambda: MIMixLoss(tau=0.1), _mimix_inputs,
                                 lambda m, e, i: m(e["a"], e["b"], i["lam"], i["perm"])),
    "tnce_symmetric": (lambda: TNCELoss(a_same=1.5, a_cross=0.5, learnable_scale=True), _tnce_inputs,
                       lambda m, e, i: m(e["a"], e["b"], i["reverse"])),
    "dcl": (lambda: DCLLoss(tau=0.2), _pair_inputs(17), lambda m, e, i: m(e["a"], e["b"])),
    "supcon_labels": (lambda: SupConLoss(tau=0.2), _supcon_inputs, lambda m, e, i: m(e["a"], i["labels"])),
}


def _encoder() -> nn.Linear:
    """The replicated 'encoder': identical initial weights on every rank, as DDP broadcasts."""
    generator = torch.Generator().manual_seed(3)
    layer = nn.Linear(DIM, DIM, bias=True, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(DIM, dtype=torch.float64) + 0.3 * torch.randn(DIM, DIM, generator=generator,
                                                                                      dtype=torch.float64))
        layer.bias.copy_(0.1 * torch.randn(DIM, generator=generator, dtype=torch.float64))
    return layer


def _evaluate(name: str, inputs: Inputs) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
    """Loss, input gradients and parameter gradients (encoder and loss module) of one case."""
    make_module, _, run = CASES[name]
    module = make_module().double()
    encoder = _encoder()
    floats = {k: v.clone().requires_grad_(True) for k, v in inputs.floats.items()}
    embedded = {k: encoder(v) for k, v in floats.items()}
    loss = run(module, embedded, inputs.indices)
    loss.backward()
    input_grads = {k: v.grad for k, v in floats.items()}
    param_grads = {f"encoder.{k}": p.grad for k, p in encoder.named_parameters()}
    param_grads.update({f"loss.{k}": p.grad for k, p in module.named_parameters()})
    return loss.detach(), input_grads, param_grads


def distributed_results(rank: int, world_size: int) -> dict[str, dict[str, Tensor]]:
    """Every case under a running process group, combined as DDP would (inside the group)."""
    results = {}
    for name, (_, build, _) in CASES.items():
        loss, input_grads, param_grads = _evaluate(name, build(rank, world_size))
        dist.all_reduce(loss)
        out = {"loss": loss / world_size}
        for key, grad in input_grads.items():
            out[f"input.{key}"] = gather_no_grad(grad)
        for key, grad in param_grads.items():
            grad = grad.clone()
            dist.all_reduce(grad)
            out[f"param.{key}"] = grad / world_size
        results[name] = out
    return results


def reference(world_size: int) -> dict[str, dict[str, Tensor]]:
    """Every case in one process, no process group, on the concatenated shards of ``world_size`` ranks."""
    results = {}
    for name, (_, build, _) in CASES.items():
        shards = [build(rank, world_size) for rank in range(world_size)]
        floats = {k: torch.cat([s.floats[k] for s in shards]) for k in shards[0].floats}
        indices = {}
        for key in shards[0].indices:
            parts = [s.indices[key] for s in shards]
            if key in ("perm", "reverse"):
                # Local row indices become rows of the concatenated batch.
                n_local = parts[0].shape[0]
                parts = [torch.where(p >= 0, p + n_local * r, p) for r, p in enumerate(parts)]
            indices[key] = torch.cat(parts)
        loss, input_grads, param_grads = _evaluate(name, Inputs(floats, indices))
        out = {"loss": loss}
        out.update({f"input.{k}": g for k, g in input_grads.items()})
        out.update({f"param.{k}": g for k, g in param_grads.items()})
        results[name] = out
    return results


def _unequal_sizes_raise(rank: int) -> bool:
    from biocl.utils.errors import BioclError

    try:
        rank_offset_labels(2 + rank)
    except BioclError:
        return True
    return False


def run_worker(rank: int, world_size: int, store_path: str, out_dir: str) -> None:
    """One rank: every case, then rank 0 writes the combined results; each rank marks that it finished."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store_path}", rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=120))
    try:
        results = distributed_results(rank, world_size)
        raised = torch.tensor([float(_unequal_sizes_raise(rank))]) if world_size > 1 else torch.ones(1)
        dist.all_reduce(raised, op=dist.ReduceOp.MIN)
        results["unequal_sizes"] = {"all_ranks_raised": raised}
        if rank == 0:
            torch.save(results, Path(out_dir) / "results.pt")
        # No rank tears its connections down while a peer may still be finishing a collective.
        dist.barrier()
        (Path(out_dir) / f"rank{rank}.done").touch()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    run_worker(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without the interpreter's teardown, where gloo's C++ threads can still be running
    # and abort the process (pytorch/pytorch#179291); everything this rank owed is written.
    os._exit(0)
