"""Species-aware DNA embeddings (DNABERT-S, Zhou et al. 2024), one job per module.

``pipeline`` (genomes, species splits, ``run``), ``training`` (the C2LR curriculum: weighted
SimCLR, then MI-Mix), ``scoring`` (clustering, few-shot and binning scores against the TNF
baselines).
"""

from biocl.pipelines.dna_species.pipeline import run
from biocl.protocols.dna_species import SECTIONS

__all__ = ["SECTIONS", "run"]
