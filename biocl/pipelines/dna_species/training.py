"""C2LR training of a DNA encoder: positive pairs, batches, the two phases' step functions.

Shared by the ``dna_species`` pipeline (training genomes, curriculum from the protocol) and
by ``biocl dna train`` / ``biocl dna bin`` (self-supervised on the user's own sequences),
so both train exactly the same way through :class:`biocl.train.Trainer`.

Positives are two non-overlapping segments of one genome (the paper's rule; for
self-training on contigs, of one sequence). Every batch draws each *group* at most once:
a group is a species in the pipeline, so two strains of one species are never each other's
negatives (they would teach the encoder to separate strains, the opposite of the task), and
a sequence when training on the user's contigs. The global batch is therefore at most the
number of groups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from biocl.encoders.dna import load_dna_encoder
from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError
from biocl.protocols.base import Phase, TrainConfig

__all__ = [
    "ContrastiveDnaModel",
    "PairBatches",
    "phase_step",
    "build_phase_specs",
    "self_train",
    "load_embedding_model",
    "PHASE_LOSSES",
]

PHASE_LOSSES = ("weighted_infonce", "mimix")


class ContrastiveDnaModel(nn.Module):
    """An encoder and its contrastive projection head; the head is used only in training.

    Parameters
    ----------
    encoder : nn.Module
        :class:`~biocl.encoders.dna.DnaConvEncoder` or
        :class:`~biocl.encoders.pretrained.dnabert.PretrainedDnaEncoder`.
    head_hidden_dim : int | None
        Hidden width of the head (default: the encoder width; the paper: 768 -> 768 -> 128).
    head_out_dim : int
        Output width of the head (paper: 128).
    head_lr_multiplier : float
        How much faster than the encoder the head learns (the paper: 3e-4 / 3e-6 = 100).
        The trainer has one learning rate; under Adam, scaling a parameter's forward use by
        ``c`` scales its effective step by ``c``, so the head's weights are stored divided by
        ``c`` and multiplied back in ``forward`` (exact for Adam/AdamW without weight decay).
    both_strands : bool
        Train on the strand-averaged embedding of the default encoder (exactly
        reverse-complement invariant, twice the compute) instead of one strand per view.
    """

    def __init__(self, encoder: nn.Module, *, head_hidden_dim: int | None = None, head_out_dim: int = 128,
                 head_lr_multiplier: float = 1.0, both_strands: bool = False):
        super().__init__()
        self.both_strands = both_strands
        from biocl.heads.projection import ProjectionHead

        self.encoder = encoder
        width = int(encoder.output_dim)
        self.head = ProjectionHead(width, head_hidden_dim or width, head_out_dim, bias=False, normalize=True)
        self.head_lr_multiplier = float(head_lr_multiplier)
        if self.head_lr_multiplier != 1.0:
            with torch.no_grad():
                for parameter in self.head.parameters():
                    parameter.div_(self.head_lr_multiplier)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, mix: tuple | None = None) -> torch.Tensor:
        """Projected, L2-normalised embeddings of a batch of windows (one strand each)."""
        if self.encoder.averages_strands:
            hidden = self.encoder(tokens, mask, mix=mix, both_strands=self.both_strands)
        else:
            hidden = self.encoder(tokens, mask, mix=mix)
        if self.head_lr_multiplier == 1.0:
            return self.head(hidden)
        return torch.func.functional_call(
            self.head, {name: p * self.head_lr_multiplier for name, p in self.head.named_parameters()}, (hidden,))


@dataclass
class PairBatches:
    """Batches of positive pairs for :class:`biocl.train.PhaseSpec`'s ``batches``.

    Parameters
    ----------
    groups : mapping of str to mapping of str to list of str
        Group (species, or sequence) -> genome label -> that genome's sequences.
    tokenize : callable
        ``tokenize(windows) -> (tokens, mask)`` of the encoder.
    batch_size : int
        Global batch (pairs per step over every process); capped at the number of groups.
    steps : int
        Batches per epoch.
    segment_bp : int
        Length of each view in base pairs.
    strand_flip : bool
        Put each view on a random strand (sequences come from either strand).
    """

    groups: Mapping[str, Mapping[str, Sequence[str]]]
    tokenize: Callable[[Sequence[str]], tuple[torch.Tensor, torch.Tensor]]
    batch_size: int
    steps: int
    segment_bp: int
    strand_flip: bool = True

    def __post_init__(self) -> None:
        if len(self.groups) < 2:
            raise BioclError(f"contrastive training needs at least 2 genomes or sequences, got {len(self.groups)}")
        self._names = sorted(self.groups)

    @property
    def effective_batch_size(self) -> int:
        """Pairs per global batch: ``batch_size`` capped at the number of groups."""
        return min(self.batch_size, len(self._names))

    def __call__(self, ctx: Any) -> Iterator[dict[str, torch.Tensor]]:
        """Yield ``{"tokens", "mask"}``: views A (rows 0..n-1) then their positives B (rows n..2n-1)."""
        from biocl.data.dna.windows import reverse_complement, sample_positive_pairs

        rng = ctx.generator
        world = max(int(ctx.world_size), 1)
        global_batch = self.effective_batch_size
        if global_batch < world:
            raise BioclError(f"a batch of {global_batch} pairs cannot be split over {world} processes")
        local = global_batch // world
        for _ in range(self.steps):
            chosen = rng.choice(len(self._names), size=global_batch, replace=False)
            # Every rank draws the same global batch from the shared generator and keeps its shard,
            # so the random stream (and the batch count) is identical on every rank.
            views_a, views_b = [], []
            for name in (self._names[i] for i in chosen):
                genomes = self.groups[name]
                label = sorted(genomes)[rng.integers(len(genomes))]
                a, b, _ = sample_positive_pairs({label: genomes[label]}, 1, self.segment_bp, rng)[0]
                if self.strand_flip:
                    flips = rng.random(2) < 0.5
                    a = reverse_complement(a) if flips[0] else a
                    b = reverse_complement(b) if flips[1] else b
                views_a.append(a)
                views_b.append(b)
            shard = slice(ctx.rank * local, (ctx.rank + 1) * local)
            tokens, mask = self.tokenize(views_a[shard] + views_b[shard])
            yield {"tokens": tokens, "mask": mask}


@fill_doc
def phase_step(loss_name: str, *, tau: float, gather: bool, n_mix_layers: int, mix_alpha: float = 1.0) -> Callable:
    """The step function of a C2LR phase.

    ``weighted_infonce`` (phase I): hard-negative weighted SimCLR over the 2N views.
    ``mimix`` (phase II): per step, a layer ``k`` uniform in ``0..n_mix_layers-1`` and per pair
    ``lam = max(l, 1 - l)``, ``l ~ Beta(alpha, alpha)``, both from the step's generator; only
    the anchor views are mixed, in the same forward pass as their positives (rows ``n..2n-1``
    get ``lam = 1`` and themselves as partner, i.e. no mixing).

    Parameters
    ----------
    loss_name : {"weighted_infonce", "mimix"}
        The phase's loss.
    %(tau)s
    %(gather)s
    n_mix_layers : int
        Layers of the encoder MI-Mix may mix at (``encoder.n_mix_layers``).
    mix_alpha : float
        ``alpha`` of the Beta distribution of the mixing weights.

    Raises
    ------
    BioclError
        For an unknown ``loss_name``.
    """
    from biocl.heads.losses import MIMixLoss, WeightedInfoNCELoss
    from biocl.heads.mixing import sample_layer, sample_mix

    if loss_name == "weighted_infonce":
        loss = WeightedInfoNCELoss(tau=tau, gather=gather)

        def simclr_step(model: nn.Module, batch: dict, ctx: Any) -> tuple[torch.Tensor, dict[str, float]]:
            z = model(batch["tokens"], batch["mask"]).float()
            n = z.shape[0] // 2
            return loss(z[:n], z[n:]), {}

        return simclr_step
    if loss_name == "mimix":
        loss = MIMixLoss(tau=tau, gather=gather)

        def mimix_step(model: nn.Module, batch: dict, ctx: Any) -> tuple[torch.Tensor, dict[str, float]]:
            tokens, mask = batch["tokens"], batch["mask"]
            n = tokens.shape[0] // 2
            layer = int(sample_layer(n_mix_layers, ctx.generator))
            lam, perm = sample_mix(n, alpha=mix_alpha, generator=ctx.generator)
            lam, perm = lam.to(tokens.device, torch.float32), perm.to(tokens.device)
            ones = torch.ones(n, device=tokens.device)
            rows = torch.arange(n, 2 * n, device=tokens.device)
            z = model(tokens, mask, mix=(layer, torch.cat([lam, ones]), torch.cat([perm, rows]))).float()
            return loss(z[:n], z[n:], lam, perm), {"mix_layer": float(layer)}

        return mimix_step
    raise BioclError(f"unknown C2LR loss {loss_name!r}; use one of {', '.join(PHASE_LOSSES)}")


def build_phase_specs(phases: Sequence[Phase], model: ContrastiveDnaModel, *, train: TrainConfig,
                      groups: Mapping[str, Mapping[str, Sequence[str]]], segment_bp: int, steps_per_epoch: int,
                      tau: float, gather: bool, mix_alpha: float, strand_flip: bool,
                      validate: Callable | None = None, monitor: str | None = None) -> list:
    """One :class:`biocl.train.PhaseSpec` per curriculum phase (``phase.loss`` picks the step)."""
    from biocl.train import PhaseSpec

    specs = []
    for phase in phases:
        loss_name = phase.loss or "weighted_infonce"
        batches = PairBatches(groups, model.encoder.tokenize, phase.batch_size or train.batch_size,
                              phase.max_steps_per_epoch or train.max_steps_per_epoch or steps_per_epoch,
                              segment_bp, strand_flip)
        step = phase_step(loss_name, tau=tau, gather=gather, n_mix_layers=model.encoder.n_mix_layers,
                          mix_alpha=mix_alpha)
        specs.append(PhaseSpec(phase=phase, step=step, batches=batches, validate=validate, monitor=monitor))
    return specs


@fill_doc
def self_train(encoder: nn.Module, sequences: Mapping[str, str | Sequence[str]], *, steps: int = 300,
               batch_size: int = 32, segment_bp: int = 2_000, lr: float = 3e-4, head_lr_multiplier: float = 10.0,
               tau: float = 0.05, mimix_steps: int = 0, both_strands: bool = True, seed: int = 0,
               device: str = "auto", threads: int | None = None) -> nn.Module:
    """Train an encoder on unlabelled sequences: two windows of one sequence are a positive pair.

    The user's contigs are the only data (the way VAMB trains on each sample); the other
    sequences of the batch are the negatives, hard ones weighted up (phase I of C2LR), then
    optionally ``mimix_steps`` of MI-Mix (phase II).

    Parameters
    ----------
    encoder : nn.Module
        Encoder to train in place (fresh, or loaded from a checkpoint).
    sequences : mapping of str to str or to a list of str
        Sequence id -> bases, or genome name -> its sequences (both views of a pair come from
        one entry). Sequences shorter than ``segment_bp`` are not used (two half-length views).
    steps : int
        Phase I steps.
    batch_size : int
        Pairs per step (capped at the number of sequences).
    segment_bp : int
        View length in base pairs; sequences shorter than ``2 * segment_bp`` give half-length views.
    lr : float
        Adam learning rate of the encoder.
    head_lr_multiplier : float
        Learning rate of the projection head relative to the encoder's.
    %(tau)s
    mimix_steps : int
        Phase II steps (0: phase I only).
    both_strands : bool
        Train the default encoder on strand-averaged embeddings (see :class:`ContrastiveDnaModel`).
    seed : int
        Seed of the batches, mixing and initialisation-independent randomness.
    %(device)s
    threads : int | None
        CPU threads for torch.

    Returns
    -------
    nn.Module
        The trained encoder (the same object).
    """
    from biocl.train import Trainer

    usable = {}
    for name, value in sequences.items():
        seqs = [s for s in ([value] if isinstance(value, str) else value) if len(s) >= segment_bp]
        if seqs:
            usable[name] = seqs
    if len(usable) < 2:
        raise BioclError(f"self-training needs at least 2 sequences of {segment_bp} bp or more, got {len(usable)}",
                         hint="lower --segment-bp or give more sequences")
    groups = {name: {name: seqs} for name, seqs in usable.items()}
    phases = [Phase(name="weighted_simclr", epochs=1, loss="weighted_infonce", init_from="none",
                    max_steps_per_epoch=max(steps, 1))]
    if mimix_steps > 0:
        phases.append(Phase(name="mimix", epochs=1, loss="mimix", init_from="none", max_steps_per_epoch=mimix_steps))
    train = TrainConfig(epochs=1, batch_size=batch_size, lr=lr, device=device, threads=threads, phases=phases)
    model = ContrastiveDnaModel(encoder, head_lr_multiplier=head_lr_multiplier, both_strands=both_strands)
    specs = build_phase_specs(phases, model, train=train, groups=groups, segment_bp=segment_bp,
                              steps_per_epoch=steps, tau=tau, gather=True, mix_alpha=1.0, strand_flip=True)
    Trainer(model, train, run=None, seed=seed).fit(specs)
    return Trainer.unwrap(model).encoder.cpu()


@fill_doc
def load_embedding_model(spec: str | Path, *, trust_remote_code: bool = False, max_tokens: int = 2000) -> nn.Module:
    """An encoder from a path: a biocl checkpoint file, or a Hugging Face model folder.

    Parameters
    ----------
    spec : str | Path
        A file from ``biocl dna train`` (safetensors) or a local Hugging Face folder.
    %(trust_remote_code)s
    max_tokens : int
        Tokens per window of a Hugging Face model, after tokenisation (the paper: 2,000 BPE tokens for 10 kb).

    Raises
    ------
    BioclError
        When the path does not exist or holds neither.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        from biocl.encoders.pretrained.dnabert import PretrainedDnaEncoder

        return PretrainedDnaEncoder(path, trust_remote_code=trust_remote_code, max_tokens=max_tokens)
    if path.is_file():
        return load_dna_encoder(path)
    raise BioclError("model not found", path=path,
                     hint="use --model default, a file from `biocl dna train`, or a local Hugging Face folder")
