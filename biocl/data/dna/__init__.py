"""DNA sequences: FASTA/FASTQ in and out, windows and positive pairs, composition, simulation.

============  ==============================================================================
``fasta``     streaming FASTA/FASTQ readers (plain, gzip, bzip2), gold standards, bioboxes
              and FASTA writers
``windows``   fixed windows, reverse complements, positive pairs of one genome's segments
``tnf``       tetranucleotide composition baselines: TNF, canonical TNF, TNF-K
``simulate``  synthetic genomes with species and strains; contigs or reads with errors
``coverage``  read coverage per contig and sample: MetaBAT-style depth from BAM files
              (pysam, optional), MetaBAT/VAMB/CoverM depth tables
============  ==============================================================================
"""

from biocl.data.dna.coverage import Coverage, DepthSettings, bam_depths, read_depth_table
from biocl.data.dna.fasta import (
    IUPAC_CODES,
    ReadStats,
    SequenceRecord,
    open_text,
    read_gold_standard,
    read_sequences,
    write_bioboxes,
    write_fasta,
)
from biocl.data.dna.simulate import (
    SimulatedGenomes,
    apply_sequencing_errors,
    gc_content,
    gold_standard_path,
    sample_contigs,
    simulate_genomes,
)
from biocl.data.dna.tnf import (
    CANONICAL_KMERS,
    KMERS,
    TNF,
    CanonicalTNF,
    TNFKernel,
    canonical_merge_matrix,
    tetranucleotide_counts,
    tetranucleotide_frequencies,
    tnf_kernel_basis,
)
from biocl.data.dna.windows import reverse_complement, sample_positive_pairs, split_windows

__all__ = [
    "SequenceRecord", "ReadStats", "read_sequences", "read_gold_standard", "write_bioboxes", "write_fasta",
    "open_text", "IUPAC_CODES",
    "split_windows", "reverse_complement", "sample_positive_pairs",
    "KMERS", "CANONICAL_KMERS", "tetranucleotide_counts", "tetranucleotide_frequencies", "canonical_merge_matrix",
    "tnf_kernel_basis", "TNF", "CanonicalTNF", "TNFKernel",
    "SimulatedGenomes", "simulate_genomes", "sample_contigs", "apply_sequencing_errors", "gc_content",
    "gold_standard_path",
    "Coverage", "DepthSettings", "bam_depths", "read_depth_table",
]
