"""Protocol sections of the ``dna_species`` pipeline (species-aware DNA embeddings, DNABERT-S).

Imports nothing heavy: :mod:`biocl.protocols.base` reads these classes to validate a protocol
before any model is built.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from biocl.protocols.base import Section, register_sections

__all__ = ["SECTIONS", "DnaGenome", "DnaData", "DnaModel", "DnaLoss", "DnaEvaluate"]


class DnaGenome(Section):
    """One genome read from disk: its FASTA file, the species it belongs to, a unique label."""

    path: str
    species: str
    label: str | None = Field(default=None, description="genome label (default: the file name)")


class DnaData(Section):
    """Where the genomes come from, how they are split, and the contigs evaluated.

    ``source: simulated`` generates ``n_species`` x ``strains_per_species`` genomes with
    :func:`biocl.data.dna.simulate.simulate_genomes`; ``source: genomes`` reads ``genomes``.
    Species are split into training, calibration (binning threshold), validation (early
    stopping and every tuned setting) and test (evaluation) sets that share no species.
    """

    source: Literal["simulated", "genomes"] = "simulated"
    n_species: int = Field(default=32, ge=3)
    strains_per_species: int = Field(default=2, ge=1)
    genome_bp: int = Field(default=200_000, ge=20_000)
    strain_divergence: float = Field(default=0.01, ge=0, le=0.5)
    codon_adaptation: float = Field(default=1.0, ge=0, description="simulated: translational selection on the 5 % "
                                    "highly expressed genes towards each species' own preferred codons; 1: "
                                    "strengths of 0-2 log-odds as measured in bacteria (0: off)")
    genomes: list[DnaGenome] = Field(default_factory=list)
    n_calibration_species: int = Field(default=4, ge=2)
    n_eval_species: int = Field(default=10, ge=2, description="test species, scored once at the end")
    n_validation_species: int = Field(default=0, ge=0, description="validation species: the best epoch of each "
                                      "phase and every tuned setting are chosen on them (0: none, no early "
                                      "stopping, and evaluate.split=validation is refused)")
    validation_contigs_per_genome: int | None = Field(default=None, ge=1, description="contigs per validation "
                                                      "genome (default: contigs_per_genome)")
    contigs_per_genome: int = Field(default=50, ge=1)
    contig_length_bp: tuple[int, int] = (2_500, 10_000)
    substitution_rate: float = Field(default=0.0, ge=0, le=0.3)
    insertion_rate: float = Field(default=0.0, ge=0, le=0.3)
    deletion_rate: float = Field(default=0.0, ge=0, le=0.3)
    reverse_complement_fraction: float = Field(default=0.5, ge=0, le=1)
    min_length_bp: int = Field(default=2_500, ge=1, description="shorter contigs are excluded (paper: 2,500 bp)")
    ambiguous: Literal["mask", "skip"] = "mask"
    window_bp: int = Field(default=10_000, ge=100, description="evaluation windows, pooled per sequence")
    segment_bp: int = Field(default=2_000, ge=100, description="length of each training view (paper: 10 kb)")
    pairs_per_epoch: int = Field(default=3_200, ge=1, description="positive pairs per epoch when no "
                                 "max_steps_per_epoch is set (steps = pairs // batch size)")

    @model_validator(mode="after")
    def _consistent(self) -> DnaData:
        low, high = self.contig_length_bp
        if not 0 < low <= high:
            raise ValueError("contig_length_bp must be (low, high) with 0 < low <= high")
        if self.n_validation_species == 1:
            raise ValueError("n_validation_species must be 0 or at least 2 (an ARI needs two species)")
        if self.source == "genomes" and not self.genomes:
            raise ValueError("source 'genomes' needs a list of genomes (path, species)")
        return self


class DnaModel(Section):
    """The encoder (default convolutional one, or a pretrained folder) and the training head."""

    encoder: Literal["dna_conv", "pretrained"] = "dna_conv"
    k: int = Field(default=4, ge=1, le=8, description="k-mer length of the tokens (bases)")
    dim: int = Field(default=96, ge=4)
    n_blocks: int = Field(default=4, ge=1)
    kernel_size: int = Field(default=3, ge=1)
    downsample: int = Field(default=16, ge=1, description="k-mers averaged per position before the convolutions")
    both_strands: bool = Field(default=True, description="embed as the mean of both strands' embeddings")
    checkpoint: str | None = Field(default=None, description="pretrained: local Hugging Face folder; "
                                   "dna_conv: optional biocl checkpoint to start from")
    trust_remote_code: bool = False
    max_tokens: int = Field(default=2_000, ge=8)
    mix_layers: Literal["all", "embeddings"] = "all"
    head_hidden_dim: int | None = Field(default=None, ge=1, description="None: same as the encoder width")
    head_out_dim: int = Field(default=128, ge=2)
    head_lr_multiplier: float = Field(default=1.0, gt=0, description="head lr / encoder lr (paper: 100)")
    embed_batch_size: int = Field(default=32, ge=1)

    @model_validator(mode="after")
    def _checkpoint_for_pretrained(self) -> DnaModel:
        if self.encoder == "pretrained" and not self.checkpoint:
            raise ValueError("encoder 'pretrained' needs model.checkpoint: the local model folder")
        if self.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd")
        return self


class DnaLoss(Section):
    """C2LR losses: phase ``loss: weighted_infonce`` (phase I) or ``mimix`` (phase II)."""

    tau: float = Field(default=0.05, gt=0, description="temperature of both phases (paper: 0.05)")
    mix_alpha: float = Field(default=1.0, gt=0, description="l ~ Beta(alpha, alpha), lam = max(l, 1 - l)")
    gather: bool = Field(default=True, description="negatives from every process's batch")
    strand_flip: bool = Field(default=True, description="train on random strands, one per view")
    train_both_strands: bool = Field(default=False, description="default encoder: train on the strand-averaged "
                                     "embedding (exactly reverse-complement invariant, twice the compute)")


class DnaEvaluate(Section):
    """Clustering, few-shot and binning as the paper, plus the scalable binner and AMBER."""

    kmeans_seeds: int = Field(default=5, ge=1)
    shots: list[int] = Field(default_factory=lambda: [1, 2, 5, 10, 20])
    n_test: int = Field(default=80, ge=1)
    few_shot_seeds: int = Field(default=5, ge=1)
    few_shot_c: float = Field(default=0.5, gt=0)
    threshold_percentile: float = Field(default=70.0, gt=0, lt=100)
    min_bin_size: int = Field(default=10, ge=1)
    graph_k: int = Field(default=50, ge=1)
    baselines: list[Literal["tnf", "canonical_tnf", "tnf_kernel", "before_training"]] = Field(
        default_factory=lambda: ["tnf", "canonical_tnf", "tnf_kernel", "before_training"],
        description="before_training: the same encoder with its weights before C2LR (random, or the "
                    "pretrained checkpoint: DNABERT-2 against DNABERT-S in the paper)")
    n_permutations: int = Field(default=1000, ge=10)
    split: Literal["test", "validation"] = Field(default="test", description="held-out species scored at the end: "
                                                 "test (the report), or validation (tuning sweeps: the test "
                                                 "species are then never sampled nor embedded)")
    monitor_validation: bool = Field(default=True, description="score the validation species' K-means ARI after "
                                     "every epoch and keep each phase's best epoch (needs validation species)")


SECTIONS = register_sections("dna_species", data=DnaData, model=DnaModel, loss=DnaLoss, evaluate=DnaEvaluate,
                             phase_losses=("weighted_infonce", "mimix"))
