"""The `biocl dna` commands on a user's own sequences, one job per module.

``training`` (self-training the default encoder: :class:`SelfTraining`, :func:`train_encoder`),
``embedding`` (:func:`embed_fasta`, sharded under torchrun) and ``binning`` (:func:`bin_fasta`
with a self-trained encoder or TNF, :func:`evaluate_binning` against a gold standard), ``coverage``
(:class:`CoverageOptions`: BAMs or a depth table) and ``views`` (composition and coverage fused).
"""

from biocl.pipelines.dna_binning.binning import bin_fasta, evaluate_binning
from biocl.pipelines.dna_binning.coverage import CoverageOptions
from biocl.pipelines.dna_binning.embedding import embed_fasta
from biocl.pipelines.dna_binning.training import SelfTraining, train_encoder

__all__ = ["CoverageOptions", "SelfTraining", "bin_fasta", "embed_fasta", "evaluate_binning", "train_encoder"]
