"""The one training loop every pipeline uses.

A pipeline builds its model (every trainable part, learnable loss scales included) and
hands the :class:`Trainer` a list of :class:`PhaseSpec`: the protocol's phase plus three
functions, ``batches(EpochContext) -> iterable``, ``step(model, batch, StepContext) ->
(loss, logs)`` and an optional ``validate(model) -> metrics``. The trainer owns the rest:
device and bf16 autocast, DDP, optimiser and schedule, clipping, early stopping,
checkpoints and resume. After every optimiser step it clamps each learnable logit scale
(:class:`biocl.heads.LogitScale`) of the model to its range, ``[0, ln 100]`` (open_clip's
rule): the forward pass clamps too, but a raw value left outside would get no gradient
and could never come back.

Randomness is derived from the seed, and the caller's is left alone: at the start of every
epoch torch's CPU generator (and the training GPU's) is reseeded from ``(seed, phase,
epoch, rank)`` for what draws from it (dropout), the step function gets its own CPU
``torch.Generator`` from the same key and the batch function a numpy ``Generator`` from
``(seed, phase, epoch)``. That is what makes a resumed run end with the very same
parameters as an uninterrupted one. :meth:`Trainer.fit` runs inside
:func:`biocl.utils.seeding.forked_rng`, so the global generators are as the caller left them
when it returns.

Each epoch logs one record to ``metrics.jsonl`` (and to ``FitResult.history``)::

    {"scope": "epoch", "phase", "epoch" (0-based), "step" (optimiser steps so far),
     "train_loss", "train_<key>" (epoch means of the step's logs), <validate metrics>,
     "lr" (of the epoch's last step), "time_s" (the epoch's seconds)}

and, with ``log_every_steps``, ``{"scope": "step", "phase", "epoch", "step", "train_loss",
"lr", <the step's logs>}``. Under ``torchrun`` the model is wrapped in DDP, every rank
validates, rank 0 alone writes, and the batch functions must give every rank as many batches.

Checkpoint folder (``run.checkpoint_dir``)::

    last.safetensors          weights after the last completed epoch (or step checkpoint)
    last.state.pt             optimiser, progress, best-so-far, history (weights_only)
    best-<phase>.safetensors  best weights of each phase (its last ones when unmonitored)
"""

from __future__ import annotations

import itertools
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from biocl.heads.losses import LogitScale
from biocl.protocols.base import Phase, TrainConfig
from biocl.train import distributed
from biocl.train.checkpoint import (STATE_FORMAT, check_resumable, commit_checkpoint, drop_uncommitted_records,
                                    load_state, recover_checkpoint)
from biocl.train.device import autocast, derived_seed, move_to, restore_rng_state, rng_state, select_device
from biocl.train.optim import build_optimizer, epoch_length, learning_rate
from biocl.train.progress import Ledger, PhaseProgress
from biocl.train.specs import EpochContext, FitResult, PhaseSpec, StepContext
from biocl.utils.console import loss_status, progress, stage_label
from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError
from biocl.utils.seeding import forked_rng, seed_generators
from biocl.utils.weights import load_weights

__all__ = ["Trainer"]

STATE_FILE = "last.state.pt"
LAST_FILE = "last.safetensors"
# Independent random streams of one (seed, phase, epoch, rank) key.
_BATCHES, _TORCH, _STEP = 0, 1, 2


@fill_doc
class Trainer:
    """Train one model through a curriculum of phases.

    Parameters
    ----------
    model : nn.Module
        Every trainable part. Parameters it already froze (``requires_grad=False``) stay
        frozen; a phase's ``trainable`` prefixes narrow the rest further.
    config : TrainConfig
        The protocol's ``train`` section.
    run : RunContext | None
        The run folder for checkpoints, metrics and resume; ``None`` keeps everything in memory.
    %(seed)s
    device : torch.device | None
        Defaults to ``select_device(config.device)``.
    log_every_steps : int | None
        Also log a ``{"scope": "step", ...}`` record every this many optimiser steps.
    checkpoint_every_steps : int | None
        Also write the last checkpoint every this many steps (resume then restarts mid-epoch).
    """

    def __init__(self, model: nn.Module, config: TrainConfig, *, run: Any | None, seed: int,
                 device: torch.device | None = None, log_every_steps: int | None = None,
                 checkpoint_every_steps: int | None = None):
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        self.config = config
        self.run = run
        self.seed = seed
        self.device = device if device is not None else select_device(config.device)
        self.model = model.to(self.device)
        self._logit_scales = [m for m in self.model.modules() if isinstance(m, LogitScale)]
        self.rank = distributed.rank()
        self.world_size = distributed.world_size()
        self.log_every_steps = log_every_steps
        self.checkpoint_every_steps = checkpoint_every_steps
        self._bf16 = config.bf16 and self.device.type == "cuda"
        self._memory_best: dict[str, dict[str, torch.Tensor]] = {}
        self._ledger = Ledger()
        self._names: list[str] = []
        self._frozen: set[str] = set()

    @staticmethod
    def unwrap(model: nn.Module) -> nn.Module:
        """The bare model inside DDP (``.module``) or ``torch.compile`` (``._orig_mod``) wrappers."""
        while True:
            if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
                model = model.module
            elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
                model = model._orig_mod
            else:
                return model

    # -- the curriculum -------------------------------------------------------------------

    def fit(self, phases: list[PhaseSpec]) -> FitResult:
        """Run ``phases`` in order (resuming from the run folder when ``run.resume``).

        The model ends holding the best weights of the last phase (its last weights when the
        phase has no monitor). torch's global generators (the CPU's and the training GPU's)
        are as they were before the call.

        Returns
        -------
        FitResult
        """
        names = [spec.phase.name for spec in phases]
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
                raise BioclError(f"phase name {name!r} may hold only letters, digits, '_', '.' and '-'",
                                 path=self._protocol_path(), hint="it names checkpoint files")
        if len(set(names)) != len(names):
            raise BioclError(f"phase names must be unique, got {names}", path=self._protocol_path())
        frozen_before = {name: p.requires_grad for name, p in self.model.named_parameters()}
        # What the pipeline froze itself stays frozen in every phase.
        self._frozen = {name for name, wanted in frozen_before.items() if not wanted}
        self._names = names
        self._memory_best = {}
        self._ledger = Ledger()
        # Each epoch reseeds the global generators; the fork gives the caller its own back.
        with forked_rng(self.device):
            state = self._resume(names)
            try:
                for index, spec in enumerate(phases):
                    if state is not None and (index < state["phase_index"]
                                              or (index == state["phase_index"] and state["phase_done"])):
                        continue
                    resumed = state if state is not None and index == state["phase_index"] else None
                    self._run_phase(index, spec, phases, resumed)
            finally:
                for name, param in self.model.named_parameters():
                    param.requires_grad_(frozen_before[name])
        if phases and self._has_best(phases[-1].phase.name):
            self._load_best(phases[-1].phase.name)
        return self._result()

    def _run_phase(self, index: int, spec: PhaseSpec, phases: list[PhaseSpec], state: dict | None) -> None:
        phase = spec.phase
        if state is None:
            self._apply_init(index, phase, phases)
            prog = PhaseProgress()
        else:
            prog = PhaseProgress(**state["progress"])
        params = self._set_trainable(phase)
        base_lr = phase.lr if phase.lr is not None else self.config.lr
        optimizer = build_optimizer(self.config, params, base_lr)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
        model = self._wrap(spec)
        self.model.train()
        for epoch in range(prog.epochs_done, phase.epochs):
            started = time.perf_counter()
            lr = self._train_epoch(index, spec, model, optimizer, params, base_lr, epoch, prog,
                                   state if state is not None and state["progress"]["step_in_epoch"] else None)
            state = None
            metrics = self._validate(spec)
            stop = self._update_best(spec, metrics, prog)
            record = self._epoch_record(phase.name, epoch, prog, metrics, lr, started)
            self._ledger.history.append(record)
            if self.run is not None and self.rank == 0:
                self.run.log_metrics(record)
            prog.end_epoch(epoch)
            done = stop or epoch + 1 == phase.epochs
            self._ledger.stopped_early[phase.name] = bool(stop)
            improved = spec.monitor is not None and prog.bad_epochs == 0
            self._checkpoint(index, optimizer, prog, phase_done=done,
                             save_best=improved or (done and spec.monitor is None))
            if stop:
                break
        self._ledger.stopped_early.setdefault(phase.name, False)

    def _epoch_record(self, phase: str, epoch: int, prog: PhaseProgress, metrics: dict[str, float], lr: float,
                      started: float) -> dict[str, Any]:
        """The epoch's ``metrics.jsonl`` record; the loss is averaged over every rank's steps."""
        loss_sum, loss_count = distributed.all_reduce_sum([prog.loss_sum, prog.loss_count], self.device)
        return {"scope": "epoch", "phase": phase, "epoch": epoch, "step": self._ledger.global_step,
                "train_loss": loss_sum / max(loss_count, 1.0), **prog.log_means(), **metrics, "lr": lr,
                "time_s": time.perf_counter() - started}

    def _train_epoch(self, index: int, spec: PhaseSpec, model: nn.Module, optimizer: torch.optim.Optimizer,
                     params: list[nn.Parameter], base_lr: float, epoch: int, prog: PhaseProgress,
                     mid_state: dict | None) -> float:
        phase = spec.phase
        seed_generators(derived_seed(self.seed, index, epoch, self.rank, _TORCH), self.device)
        generator = torch.Generator().manual_seed(derived_seed(self.seed, index, epoch, self.rank, _STEP))
        skip = 0
        if mid_state is not None:
            restore_rng_state(mid_state["rng"][self.rank], generator, self.device)
            skip = prog.step_in_epoch
        epoch_ctx = EpochContext(phase=phase.name, epoch=epoch, rank=self.rank, world_size=self.world_size,
                                 seed=self.seed, batch_size=phase.batch_size or self.config.batch_size,
                                 generator=np.random.default_rng(derived_seed(self.seed, index, epoch, 0, _BATCHES)))
        batches = spec.batches(epoch_ctx)
        cap = phase.max_steps_per_epoch or self.config.max_steps_per_epoch
        length = epoch_length(batches, cap)
        if self.config.schedule == "cosine" and prog.steps_per_epoch == 0:
            if length is None:
                # Cosine needs the phase's total steps up front; an unsized epoch is counted once.
                batches = list(batches)
                length = len(batches) if cap is None else min(cap, len(batches))
            prog.steps_per_epoch = length
        lr = optimizer.param_groups[0]["lr"]
        description = stage_label(phase.name, epoch + 1, phase.epochs)
        shown_loss = loss_status()
        # islice stops before drawing a batch past the cap (drawing one can be costly).
        capped = batches if cap is None else itertools.islice(batches, cap)
        for position, batch in enumerate(progress(capped, total=length, description=description,
                                                         status=shown_loss)):
            if position < skip:
                continue
            lr = learning_rate(self.config, base_lr, prog, epoch, phase.epochs)
            for group in optimizer.param_groups:
                group["lr"] = lr
            ctx = StepContext(device=self.device, phase=phase.name, epoch=epoch, step=self._ledger.global_step,
                              rank=self.rank, world_size=self.world_size, generator=generator)
            loss_value, logs = self._step(spec, model, optimizer, params, batch, ctx)
            shown_loss.value = loss_value
            self._ledger.global_step += 1
            prog.add_step(position, loss_value, logs)
            step = self._ledger.global_step
            if self.log_every_steps and step % self.log_every_steps == 0 and self.run is not None and self.rank == 0:
                self.run.log_metrics({"scope": "step", "phase": phase.name, "epoch": epoch, "step": step,
                                      "train_loss": loss_value, "lr": lr, **logs})
            if self.checkpoint_every_steps and step % self.checkpoint_every_steps == 0:
                self._checkpoint(index, optimizer, prog, phase_done=False, save_best=False,
                                 rng=rng_state(generator, self.device))
        if prog.loss_count == 0:
            raise BioclError(f"phase {phase.name!r} epoch {epoch} produced no batches on rank {self.rank}",
                             path=self._protocol_path(),
                             hint="the training set is smaller than one batch; lower the batch size")
        return lr

    def _step(self, spec: PhaseSpec, model: nn.Module, optimizer: torch.optim.Optimizer,
              params: list[nn.Parameter], batch: Any, ctx: StepContext) -> tuple[float, dict[str, float]]:
        batch = move_to(batch, self.device)
        optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, enabled=self._bf16):
            loss, logs = spec.step(model, batch, ctx)
        loss.backward()
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise BioclError(f"training diverged: the loss is {loss_value} in phase {ctx.phase!r}, epoch {ctx.epoch}, "
                             f"step {ctx.step}", path=self._protocol_path(),
                             hint="lower train.lr or set train.grad_clip")
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        optimizer.step()
        for scale in self._logit_scales:
            scale.clamp_()
        return loss_value, {key: float(value) for key, value in (logs or {}).items()}

    # -- phases: initial weights, trainable parameters, DDP ---------------------------------

    def _apply_init(self, index: int, phase: Phase, phases: list[PhaseSpec]) -> None:
        if phase.init_from == "none":
            return
        if phase.init_from == "previous":
            if index > 0 and self._has_best(phases[index - 1].phase.name):
                self._load_best(phases[index - 1].phase.name)
            return
        path = self.run.protocol.resolve_path(phase.init_from) if self.run is not None else Path(phase.init_from)
        load_weights(self.unwrap(self.model), path)

    def _set_trainable(self, phase: Phase) -> list[nn.Parameter]:
        named = list(self.model.named_parameters())
        if phase.trainable is not None:
            for prefix in phase.trainable:
                if not any(name.startswith(prefix) for name, _ in named):
                    raise BioclError(f"phase {phase.name!r}: trainable prefix {prefix!r} matches no parameter "
                                     f"(names start with: {', '.join(sorted({n.split('.')[0] for n, _ in named}))})",
                                     path=self._protocol_path(), hint="fix train.phases[].trainable")
        params = []
        for name, param in named:
            wanted = phase.trainable is None or any(name.startswith(prefix) for prefix in phase.trainable)
            param.grad = None  # no stale gradient of the previous phase survives into this one
            param.requires_grad_(wanted and name not in self._frozen)
            if param.requires_grad:
                params.append(param)
        if not params:
            raise BioclError(f"phase {phase.name!r} has no trainable parameter", path=self._protocol_path(),
                             hint="check train.phases[].trainable")
        return params

    def _wrap(self, spec: PhaseSpec) -> nn.Module:
        if self.world_size <= 1:
            return self.model
        # A new wrapper per phase: DDP fixes its set of gradient buckets when it is built.
        return nn.parallel.DistributedDataParallel(
            self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
            find_unused_parameters=spec.find_unused_parameters)

    # -- validation and best weights -------------------------------------------------------

    def _validate(self, spec: PhaseSpec) -> dict[str, float]:
        if spec.validate is None:
            return {}
        bare = self.unwrap(self.model)
        bare.eval()
        try:
            with torch.no_grad():
                metrics = {key: float(value) for key, value in spec.validate(bare).items()}
        finally:
            self.model.train()
        # Every rank validates; rank 0's numbers decide, so early stopping agrees everywhere.
        return distributed.broadcast_object(metrics)

    def _update_best(self, spec: PhaseSpec, metrics: dict[str, float], prog: PhaseProgress) -> bool:
        """Track the monitored value; return whether to stop early."""
        if spec.monitor is None:
            return False
        if spec.monitor not in metrics:
            raise KeyError(f"phase {spec.phase.name!r} monitors {spec.monitor!r}, but validate() returned "
                           f"{sorted(metrics)}")
        prog.observe(metrics[spec.monitor], spec.mode)
        patience = self.config.early_stopping_patience
        return patience is not None and prog.bad_epochs >= patience

    def _has_best(self, name: str) -> bool:
        return name in self._ledger.best_files or name in self._memory_best

    def _load_best(self, name: str) -> None:
        bare = self.unwrap(self.model)
        if self.run is None:
            bare.load_state_dict(self._memory_best[name])
        else:
            load_weights(bare, self.run.checkpoint_dir / self._ledger.best_files[name])

    # -- checkpoints and resume ------------------------------------------------------------

    def _checkpoint(self, index: int, optimizer: torch.optim.Optimizer,
                    prog: PhaseProgress, *, phase_done: bool, save_best: bool, rng: list | None = None) -> None:
        bare = self.unwrap(self.model)
        name = self._names[index]
        if self.run is None:
            if save_best:
                self._memory_best[name] = {k: v.detach().to("cpu", copy=True) for k, v in bare.state_dict().items()}
            return
        best_file = f"best-{name}.safetensors"
        if save_best:
            self._ledger.best_files[name] = best_file
        if rng is not None:
            rng = distributed.all_gather_object(rng)
        if self.rank == 0:
            weights = {LAST_FILE: bare, **({best_file: bare} if save_best else {})}
            state = {"format": STATE_FORMAT, "seed": self.seed, "phase_names": self._names,
                     "world_size": self.world_size, "phase_index": index, "phase_done": phase_done,
                     "progress": vars(prog).copy(), "optimizer": optimizer.state_dict(), "rng": rng or [],
                     **self._ledger.state()}
            self._ledger.files = commit_checkpoint(self.run.checkpoint_dir, STATE_FILE, state, weights)
        distributed.barrier()

    def _resume(self, names: list[str]) -> dict | None:
        if self.run is None or not getattr(self.run, "resume", False):
            return None
        folder = self.run.checkpoint_dir
        if self.rank == 0:
            recover_checkpoint(folder, STATE_FILE)
        distributed.barrier()
        if not (folder / STATE_FILE).is_file():
            # Killed before the first checkpoint: training restarts from scratch and logs again.
            if self.rank == 0:
                drop_uncommitted_records(self.run.run_dir / "metrics.jsonl", {"history": [], "global_step": 0})
            return None
        state = load_state(folder / STATE_FILE)
        check_resumable(state, folder / STATE_FILE, seed=self.seed, phase_names=names, world_size=self.world_size)
        load_weights(self.unwrap(self.model), folder / LAST_FILE)
        self._ledger = Ledger.from_state(state)
        if self.rank == 0:
            drop_uncommitted_records(self.run.run_dir / "metrics.jsonl", state)
        return state

    # -- small helpers ---------------------------------------------------------------------

    def _protocol_path(self) -> Path | None:
        protocol = getattr(self.run, "protocol", None)
        return getattr(protocol, "source_path", None)

    def _result(self) -> FitResult:
        folder = self.run.checkpoint_dir if self.run is not None else None
        files = distributed.broadcast_object(self._ledger.files)
        best_files = self._ledger.best_files
        return FitResult(
            history=list(self._ledger.history),
            best={name: folder / file for name, file in best_files.items()} if folder else {},
            last=folder / LAST_FILE if folder is not None and LAST_FILE in files else None,
            stopped_early=dict(self._ledger.stopped_early),
            steps=int(self._ledger.global_step),
            best_sha256={name: files[file] for name, file in best_files.items() if file in files},
        )
