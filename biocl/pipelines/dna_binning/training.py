"""Self-training the default DNA encoder on a user's own sequences (`biocl dna train`).

Positives are two windows of one *group*: one sequence (``group_by="sequence"``, the rule
``biocl dna bin`` and ``biocl dna embed`` use on contigs) or every sequence of one file
(``group_by="file"``, one genome per file: the paper's rule). The training itself is
:func:`biocl.pipelines.dna_species.training.self_train`, shared with the ``dna_species``
pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError

__all__ = ["SelfTraining", "train_encoder", "GROUP_BY"]

#: What one positive group is in :func:`train_encoder`.
GROUP_BY = ("sequence", "file")


@dataclass(frozen=True)
class SelfTraining:
    """How an encoder is trained on the input itself: C2LR phase I, then optionally phase II.

    Parameters
    ----------
    steps : int
        Phase I (hard-negative weighted SimCLR) steps.
    mimix_steps : int
        Phase II (MI-Mix) steps; 0 runs phase I only.
    batch_size : int
        Pairs per step (capped at the number of groups).
    segment_bp : int
        Length of each view (bp).
    lr : float
        Adam learning rate of the encoder (the projection head's is 10 x).
    """

    steps: int = 300
    mimix_steps: int = 0
    batch_size: int = 32
    segment_bp: int = 2_000
    lr: float = 3e-4

    @fill_doc
    def fit(self, encoder: Any, sequences: Mapping[str, str | Sequence[str]], *, seed: int = 0,
            device: str = "auto") -> Any:
        """Train ``encoder`` on ``sequences`` (group name -> its sequence or sequences).

        Parameters
        ----------
        encoder : nn.Module
            The encoder to train (in place).
        sequences : mapping of str to str or to a list of str
            Each group's sequences; both views of a positive pair come from one group.
        seed : int
            Seed of the batches and of MI-Mix. The projection head draws its initial weights
            from torch's CPU generator: call this inside :func:`biocl.utils.seeding.seeded`
            with the encoder's construction for reproducible weights.
        %(device)s

        Returns
        -------
        nn.Module
            The trained encoder, on the CPU.
        """
        from biocl.pipelines.dna_species.training import self_train

        return self_train(encoder, sequences, steps=self.steps, mimix_steps=self.mimix_steps,
                          batch_size=self.batch_size, segment_bp=self.segment_bp, lr=self.lr, seed=seed,
                          device=device)


@fill_doc
def train_encoder(fasta: Sequence[str | Path], out: str | Path, *, group_by: str = "sequence",
                  init: str | Path | None = None,
                  training: SelfTraining = SelfTraining(steps=500, mimix_steps=250),
                  min_length_bp: int = 2_500, seed: int = 0, device: str = "auto") -> dict[str, Any]:
    """Train the default encoder with C2LR on the sequences of ``fasta`` and write a checkpoint.

    Parameters
    ----------
    fasta : sequence of str | Path
        Training sequences: FASTA/FASTQ files (plain, gzip or bzip2).
    out : str | Path
        Encoder checkpoint to write (``.safetensors``).
    group_by : {"sequence", "file"}
        Positives from one sequence, or from one file (one genome per file).
    init : str | Path | None
        Start from this checkpoint; None starts from seeded random weights.
    training : SelfTraining
        Steps, batch and view length of the two phases.
    min_length_bp : int
        Shorter sequences are skipped (bp).
    %(seed)s
    %(device)s

    Returns
    -------
    dict
        ``checkpoint`` (path), ``sha256``, ``groups`` (how many), ``steps``, ``mimix_steps``.

    Raises
    ------
    BioclError
        For an unknown ``group_by``, or a sequence id in two files with ``group_by="sequence"``.
    """
    from biocl.encoders.dna import DnaConvEncoder, load_dna_encoder, save_dna_encoder
    from biocl.utils.seeding import seeded

    if group_by not in GROUP_BY:
        raise BioclError(f"unknown --group-by {group_by!r}", hint="use 'sequence' or 'file'")
    groups = _group_sequences(fasta, group_by=group_by, min_length_bp=min_length_bp)
    # Self-training builds the projection head, so it shares the encoder's seeded block.
    with seeded(seed):
        encoder = load_dna_encoder(init) if init else DnaConvEncoder()
        encoder = training.fit(encoder, groups, seed=seed, device=device)
    digest = save_dna_encoder(encoder, out)
    return {"checkpoint": str(out), "sha256": digest, "groups": len(groups), "steps": training.steps,
            "mimix_steps": training.mimix_steps}


def _group_sequences(paths: Sequence[str | Path], *, group_by: str, min_length_bp: int) -> dict[str, list[str]]:
    """Group name (the file, or the sequence id) -> its sequences, in file order."""
    from biocl.data.dna.fasta import read_sequences

    groups: dict[str, list[str]] = {}
    for path in paths:
        for record in read_sequences(path, min_length_bp=min_length_bp):
            key = str(path) if group_by == "file" else record.id
            if group_by == "sequence" and key in groups:
                raise BioclError(f"sequence id {key!r} appears in two input files", path=path,
                                 hint="make ids unique across files or use --group-by file")
            groups.setdefault(key, []).append(record.seq)
    return groups
