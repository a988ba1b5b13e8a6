"""Binning a user's contigs into genomes with an encoder self-trained on them (`biocl dna bin`)."""

from biocl.pipelines.dna_binning.binning import bin_fasta, evaluate_binning

__all__ = ["bin_fasta", "evaluate_binning"]
