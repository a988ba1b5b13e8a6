"""The audio pipeline's model and curriculum: the dual encoder, its losses, one trainer phase per step.

``pretrain`` and ``temin_a`` use the symmetric CLIP loss, ``temin_b`` the TNCE loss (a
phase's ``loss`` may say otherwise); both losses share the model's one logit scale. A
phase's ``trainable`` prefixes name the layers it trains (``@paper``: the layers the
paper post-trains).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from biocl.heads.losses import ClipLoss, TNCELoss
from biocl.pipelines.audio_temporal.batches import PhaseBatches
from biocl.protocols.audio_temporal import PAPER_TRAINABLE, PHASE_NAMES
from biocl.protocols.base import Phase, Protocol
from biocl.utils.errors import BioclError
from biocl.utils.seeding import seeded

__all__ = ["build_model", "check_vocabulary", "Trainee", "phase_specs"]

_DEFAULT_LOSS = {"pretrain": "clip", "temin_a": "clip", "temin_b": "tnce"}


def build_model(protocol: Protocol, captions: list[str] | None = None) -> nn.Module:
    """The protocol's dual encoder: fresh (seeded), loaded from ``model.init_from``, or a pretrained HF CLAP."""
    from biocl.encoders.clap import CompactClap, HFClapAdapter, load_clap

    spec = protocol.model
    if spec.init_from:
        model = load_clap(protocol.resolve_path(spec.init_from))
        check_vocabulary(model, captions or [], protocol)
        return model
    if spec.kind == "hf_clap":
        return HFClapAdapter(protocol.resolve_path(spec.pretrained_path))
    with seeded(protocol.seed):
        return CompactClap.build(captions or [], sample_rate_hz=protocol.data.sample_rate_hz,
                                 audio=spec.audio.model_dump(), text=spec.text.model_dump(), embed_dim=spec.embed_dim,
                                 projection_hidden_dim=spec.projection_hidden_dim, init_log_scale=spec.init_log_scale)


def check_vocabulary(model: nn.Module, captions: list[str], protocol: Protocol) -> None:
    """Refuse a loaded model whose tokenizer lacks a word of the captions it will read."""
    tokenizer = getattr(model, "tokenizer", None)
    missing = tokenizer.unknown_words(captions) if tokenizer is not None else []
    if missing:
        raise BioclError(f"the model's vocabulary lacks the caption words {', '.join(missing[:8])}",
                         path=protocol.resolve_path(protocol.model.init_from or "."),
                         hint="post-train a model pretrained with the same classes and caption templates")


class Trainee(nn.Module):
    """The model plus its losses, which share the model's one logit scale (so DDP sees one forward)."""

    def __init__(self, clap: nn.Module, protocol: Protocol):
        super().__init__()
        loss = protocol.loss
        self.clap = clap
        self.clip = ClipLoss(normalize="both", symmetric=loss.symmetric, learnable_scale=True)
        self.tnce = TNCELoss(loss.a_same, loss.a_cross, learnable_scale=True, symmetric=loss.symmetric)
        self.clip.logit_scale = clap.logit_scale
        self.tnce.logit_scale = clap.logit_scale
        self.replay_weight = loss.replay_weight

    def forward(self, batch: dict[str, Any], loss: str) -> torch.Tensor:
        audio, text = self.clap(batch["audio"], batch["text"])
        if loss == "tnce":
            value = self.tnce(audio, text, batch["reverse_index"])
        else:
            value = self.clip(audio, text, candidate_ids=batch.get("caption_ids"))
        replay = batch.get("replay")
        if replay is not None:
            audio, text = self.clap(replay["audio"], replay["text"])
            value = value + self.replay_weight * self.clip(audio, text, candidate_ids=replay.get("caption_ids"))
        return value


def phase_specs(protocol: Protocol, trainee: Trainee, batches: PhaseBatches,
                validate: Callable[[nn.Module], dict[str, float]] | None = None, *,
                baseline: bool = False) -> list[Any]:
    """One :class:`biocl.train.PhaseSpec` per phase of the curriculum: its loss, batches and trainable layers.

    Parameters
    ----------
    protocol : Protocol
        An ``audio_temporal`` protocol.
    trainee : Trainee
        The model and its losses.
    batches : PhaseBatches
        The batch functions.
    validate : callable | None
        Scores the trainee on the validation pairs and clips (``val_<metric>`` keys); a phase
        named in ``evaluate.monitor`` keeps its best epoch by it.
    baseline : bool
        The TeminAL-A-alone baseline's curriculum: the post-training phases only (it starts
        from the pretrained model), every TNCE phase replaced by the plain CLIP loss on the
        same compositions without reversed hard negatives (``PhaseBatches.temporal_clip``).
    """
    from biocl.train.trainer import PhaseSpec

    specs = []
    for phase in protocol.phases():
        if phase.name not in PHASE_NAMES:
            raise BioclError(f"unknown phase {phase.name!r}; the audio pipeline runs {', '.join(PHASE_NAMES)}",
                             path=protocol.source_path, hint="name train.phases after them")
        loss = phase.loss or _DEFAULT_LOSS[phase.name]
        if loss not in ("clip", "tnce"):
            raise BioclError(f"phase {phase.name!r}: unknown loss {loss!r} (use clip or tnce)", path=protocol.source_path)
        if baseline and phase.name == "pretrain":
            continue
        batch_function = getattr(batches, phase.name)
        if baseline and loss == "tnce":
            loss, batch_function = "clip", batches.temporal_clip
        trainable = None
        if phase.trainable is not None:
            trainable = []
            for prefix in phase.trainable:
                names = trainee.clap.paper_trainable() if prefix == PAPER_TRAINABLE else [prefix]
                trainable += [f"clap.{name}" for name in names]
        monitor = protocol.evaluate.monitor.get(phase.name) if validate is not None else None
        specs.append(PhaseSpec(phase=Phase(**{**phase.model_dump(), "trainable": trainable}),
                               step=_step_function(loss), batches=batch_function,
                               validate=validate, monitor=None if monitor is None else f"val_{monitor}"))
    return specs


def _step_function(loss: str) -> Any:
    def step(model: nn.Module, batch: dict[str, Any], ctx: Any) -> tuple[torch.Tensor, dict[str, float]]:
        value = model(batch, loss)
        return value, {}
    return step
