"""`biocl dna embed|bin|evaluate|train` and `biocl simulate dna`: thin shells over biocl.pipelines.dna_binning."""

from __future__ import annotations

from pathlib import Path

import typer

from biocl.utils.console import stage
from biocl.utils.io import check_output
from biocl_cli.output import OVERWRITE_OPTION, embeddings_paths, emit


def _coverage_options(bam: list[Path] | None, abundance: Path | None, threads: int | None, weight: float,
                      trim_bp: int, min_identity: float, min_mapq: int):
    from biocl.data.dna.coverage import DepthSettings
    from biocl.pipelines.dna_binning import CoverageOptions

    return CoverageOptions(bams=tuple(bam or ()), abundance=abundance, threads=threads or 1, weight=weight,
                           depth=DepthSettings(trim_bp=trim_bp, min_identity=min_identity, min_mapq=min_mapq))

app = typer.Typer(help="DNA embedding, binning and evaluation.", no_args_is_help=True)

_DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda (bf16 autocast on CUDA).")
_SEED = typer.Option(0, "--seed", help="Seed of training and of every random choice.")
_BAM = typer.Option(None, "--bam", help="Coordinate-sorted BAM of one sample's reads mapped to these contigs "
                    "(repeat per sample; needs pysam: pip install 'biocl[bam]').")
_ABUNDANCE = typer.Option(None, "--abundance", help="Depth table instead of BAMs: MetaBAT2 "
                          "(jgi_summarize_bam_contig_depths), VAMB abundance.tsv or CoverM contig output.")
_THREADS = typer.Option(None, "--threads", help="CPU threads for torch, BLAS and pysam (default: as set).")
_WEIGHT = typer.Option(0.5, "--coverage-weight", help="Weight of composition in the fused similarity "
                       "(coverage gets 1 - it).")
_TRIM = typer.Option(75, "--trim-bp", help="BAM depth: bases left out at each contig end (MetaBAT: 75).")
_IDENTITY = typer.Option(0.97, "--min-identity", help="BAM depth: smallest alignment identity counted (MetaBAT: 0.97).")
_MAPQ = typer.Option(0, "--min-mapq", help="BAM depth: smallest mapping quality counted (MetaBAT: 0).")
_TRUST = typer.Option(False, "--trust-remote-code",
                      help="Allow model code shipped in a Hugging Face folder to run (DNABERT-2/-S need it).")


@app.command("embed")
def embed(
    fasta: Path = typer.Argument(..., help="Sequences (FASTA/FASTQ, plain, gzip or bzip2)."),
    out: Path = typer.Option(..., "--out", "-o", help="Embeddings .npy (ids are written to <out>.ids.txt)."),
    model: str = typer.Option("default", "--model", help="'default' (train on the input itself), a file from "
                              "`biocl dna train`, or a local Hugging Face folder."),
    steps: int = typer.Option(300, "--steps", help="Self-training steps for --model default (0: untrained)."),
    window_bp: int = typer.Option(10_000, "--window-bp", help="Window length; windows are averaged per sequence."),
    min_length_bp: int = typer.Option(0, "--min-length", help="Skip sequences shorter than this (bp)."),
    bam: list[Path] | None = _BAM,
    abundance: Path | None = _ABUNDANCE,
    coverage_weight: float = _WEIGHT,
    trim_bp: int = _TRIM,
    min_identity: float = _IDENTITY,
    min_mapq: int = _MAPQ,
    threads: int | None = _THREADS,
    trust_remote_code: bool = _TRUST,
    overwrite: bool = OVERWRITE_OPTION,
    seed: int = _SEED,
    device: str = _DEVICE,
) -> None:
    """Embed every sequence of a file; rows follow the input order (with coverage: the fused two views).

    Under ``torchrun`` the ranks train together (gathered negatives), each embeds one
    contiguous share of the sequences, and rank 0 writes the single output in input order.
    """
    from biocl.pipelines.dna_binning import embed_fasta

    npy, ids = embeddings_paths(out)
    check_output(npy, overwrite=overwrite, folder=False, also=(ids,))  # before any work
    coverage = _coverage_options(bam, abundance, threads, coverage_weight, trim_bp, min_identity, min_mapq)
    summary = embed_fasta(fasta, out, model=model, steps=steps, window_bp=window_bp, min_length_bp=min_length_bp,
                          trust_remote_code=trust_remote_code, seed=seed, device=device, coverage=coverage,
                          threads=threads)
    if summary is not None:  # the other ranks of a torchrun have nothing to say
        emit(summary, f"{summary['n_sequences']} sequences -> {summary['embeddings']} ({summary['dim']} "
                      f"dimensions); ids in {summary['ids']}")


@app.command("bin")
def bin_command(
    fasta: Path = typer.Argument(..., help="Contigs or long reads (FASTA/FASTQ, plain, gzip or bzip2)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (bins/, clusters.tsv, bins.binning, unbinned)."),
    features: str = typer.Option("learned", "--features", help="'learned' (self-trained encoder) or 'tnf' "
                                 "(canonical tetranucleotide frequencies)."),
    model: str | None = typer.Option(None, "--model", help="Start from this encoder (file or Hugging Face folder)."),
    steps: int = typer.Option(300, "--steps", help="Self-training steps (weighted SimCLR)."),
    mimix_steps: int = typer.Option(0, "--mimix-steps", help="Further MI-Mix steps."),
    batch_size: int = typer.Option(32, "--batch-size", help="Pairs per training step."),
    segment_bp: int = typer.Option(2_000, "--segment-bp", help="Training view length (bp)."),
    binner: str = typer.Option("graph", "--binner", help="'graph' (kNN graph, O(n k) memory) or 'kmedoid' "
                               "(the paper's, O(n^2))."),
    threshold: float | None = typer.Option(None, "--threshold", help="Cosine threshold (default: self-calibrated)."),
    calibration: str = typer.Option("silhouette", "--calibration", help="Threshold without labels: 'silhouette' "
                                    "(the candidate with the best mean silhouette) or 'halves' (a percentile of "
                                    "half-to-half similarities)."),
    threshold_percentile: float = typer.Option(70.0, "--threshold-percentile",
                                               help="--calibration halves: percentile of half-to-half similarities."),
    min_length_bp: int = typer.Option(2_500, "--min-length", help="Shorter sequences are left unbinned (bp)."),
    min_bin_size: int = typer.Option(10, "--min-bin-size", help="Smaller bins are dissolved (sequences)."),
    min_fasta_bp: int = typer.Option(0, "--min-fasta", help="Write a bin's FASTA only when it holds at least this "
                                     "many base pairs (VAMB's --minfasta); clusters.tsv lists every bin."),
    save_model: Path | None = typer.Option(None, "--save-model", help="Also write the trained encoder here."),
    bam: list[Path] | None = _BAM,
    abundance: Path | None = _ABUNDANCE,
    coverage_weight: float = _WEIGHT,
    trim_bp: int = _TRIM,
    min_identity: float = _IDENTITY,
    min_mapq: int = _MAPQ,
    threads: int | None = _THREADS,
    trust_remote_code: bool = _TRUST,
    overwrite: bool = OVERWRITE_OPTION,
    seed: int = _SEED,
    device: str = _DEVICE,
) -> None:
    """Bin sequences into genomes, training the encoder on the input itself (no pretrained model needed).

    With --bam (one per sample) or --abundance, coverage across samples is a second view fused with composition.
    """
    from biocl.pipelines.dna_binning import SelfTraining, bin_fasta

    # Without --overwrite any non-empty folder is refused; with it, bin_fasta replaces only an earlier
    # `biocl dna bin` result, as a whole, and still refuses a folder of other files.
    check_output(out, overwrite=overwrite)  # before any work
    if save_model is not None:
        check_output(save_model, overwrite=overwrite, folder=False)
    training = SelfTraining(steps=steps, mimix_steps=mimix_steps, batch_size=batch_size, segment_bp=segment_bp)
    summary = bin_fasta(fasta, out, features=features, model=model, trust_remote_code=trust_remote_code,
                        training=training, binner=binner, threshold=threshold, calibration=calibration,
                        threshold_percentile=threshold_percentile, min_length_bp=min_length_bp,
                        min_bin_size=min_bin_size, seed=seed, device=device, save_model=save_model,
                        coverage=_coverage_options(bam, abundance, threads, coverage_weight, trim_bp, min_identity,
                                                   min_mapq),
                        min_fasta_bp=min_fasta_bp, threads=threads)
    emit(summary, f"{summary['n_sequences']} sequences: {summary['n_bins']} bins holding {summary['n_binned']}, "
                  f"{summary['n_unbinned']} unbinned ({summary['n_too_short']} too short); threshold "
                  f"{summary['threshold']:.4f}\nbins in {out / 'bins'}; table {out / 'clusters.tsv'}")


@app.command("evaluate")
def evaluate(
    bins: Path = typer.Argument(..., help="A `biocl dna bin` folder, clusters.tsv or a bioboxes .binning file."),
    truth: Path = typer.Option(..., "--truth", help="Genome gold standard: bioboxes or sequence_id<TAB>label TSV."),
    species_truth: Path | None = typer.Option(None, "--species-truth", help="Species gold standard of the same "
                                              "sequences, for species-level ARI and F1."),
    fasta: Path | None = typer.Option(None, "--fasta", help="The binned sequences, for base-pair (AMBER) metrics."),
) -> None:
    """Score bins against a gold standard: ARI, matched F1 counts, AMBER purity/completeness."""
    from biocl.pipelines.dna_binning import evaluate_binning

    result = evaluate_binning(bins, truth, fasta=fasta, species_path=species_truth)
    match = result["match"]
    human = (f"{result['n_sequences']} sequences, {match['n_species']} genomes, {match['n_bins']} bins, "
             f"{result['n_unbinned']} unbinned\nARI {result['ari']:.4f}; mean F1 {match['mean_f1']:.4f}; "
             f"genomes with F1 > 0.5: {match['n_f1_above_0_5']}, > 0.9: {match['n_f1_above_0_9']}")
    if "amber" in result:
        recovered = ", ".join(f">{r['completeness_gt']:.0%}/<{r['contamination_lt']:.0%}: {r['n_genomes']}"
                              for r in result["amber"]["recovered"])
        human += (f"\npurity {result['amber']['mean_purity']:.4f}, completeness "
                  f"{result['amber']['mean_completeness']:.4f} (bp, over genomes); recovered genomes "
                  f"(completeness/contamination) {recovered}")
    if "species" in result:
        sp = result["species"]
        human += (f"\nspecies: {sp['match']['n_species']}, ARI {sp['ari']:.4f}, mean F1 {sp['match']['mean_f1']:.4f}, "
                  f"F1 > 0.9: {sp['match']['n_f1_above_0_9']}")
    emit(result, human)


@app.command("train")
def train(
    fasta: list[Path] = typer.Argument(..., help="Training sequences: FASTA/FASTQ files."),
    out: Path = typer.Option(..., "--out", "-o", help="Encoder checkpoint to write (.safetensors)."),
    group_by: str = typer.Option("sequence", "--group-by", help="Positives from one 'sequence', or from one "
                                 "'file' (one genome per file, the paper's rule)."),
    init: Path | None = typer.Option(None, "--init", help="Start from this checkpoint."),
    steps: int = typer.Option(500, "--steps", help="Phase I (weighted SimCLR) steps."),
    mimix_steps: int = typer.Option(250, "--mimix-steps", help="Phase II (MI-Mix) steps."),
    batch_size: int = typer.Option(32, "--batch-size", help="Pairs per step."),
    segment_bp: int = typer.Option(2_000, "--segment-bp", help="View length (bp)."),
    lr: float = typer.Option(3e-4, "--lr", help="Adam learning rate of the encoder (the head's is 10 x)."),
    min_length_bp: int = typer.Option(2_500, "--min-length", help="Skip shorter sequences (bp)."),
    threads: int | None = _THREADS,
    overwrite: bool = OVERWRITE_OPTION,
    seed: int = _SEED,
    device: str = _DEVICE,
) -> None:
    """Train the default encoder with C2LR on your sequences and write a checkpoint."""
    from biocl.pipelines.dna_binning import SelfTraining, train_encoder
    from biocl.utils.runtime import set_threads

    check_output(out, overwrite=overwrite, folder=False)  # before any work
    set_threads(threads)

    training = SelfTraining(steps=steps, mimix_steps=mimix_steps, batch_size=batch_size, segment_bp=segment_bp,
                            lr=lr)
    summary = train_encoder(fasta, out, group_by=group_by, init=init, training=training,
                            min_length_bp=min_length_bp, seed=seed, device=device)
    emit(summary, f"trained on {summary['groups']} {group_by}s -> {summary['checkpoint']} "
                  f"(sha256 {summary['sha256'][:12]})")


def simulate_command(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    genomes: list[Path] | None = typer.Option(None, "--genome", help="Sample from these genome FASTA files "
                                              "(repeatable) instead of simulating genomes."),
    n_species: int = typer.Option(12, "--species", help="Simulated species."),
    strains: int = typer.Option(2, "--strains", help="Strains per simulated species."),
    genome_bp: int = typer.Option(200_000, "--genome-bp", help="Simulated genome length (bp)."),
    contigs_per_genome: int = typer.Option(50, "--contigs-per-genome", help="Fragments sampled per genome."),
    min_bp: int = typer.Option(2_500, "--min-bp", help="Shortest fragment (bp)."),
    max_bp: int = typer.Option(10_000, "--max-bp", help="Longest fragment (bp)."),
    substitution_rate: float = typer.Option(0.0, "--substitution-rate", help="Per-base substitution rate."),
    insertion_rate: float = typer.Option(0.0, "--insertion-rate", help="Per-base insertion rate."),
    deletion_rate: float = typer.Option(0.0, "--deletion-rate", help="Per-base deletion rate."),
    rc_fraction: float = typer.Option(0.5, "--rc-fraction", help="Share of reverse-complemented fragments."),
    fastq: bool = typer.Option(False, "--fastq", help="Write FASTQ instead of FASTA."),
    codon_adaptation: float = typer.Option(1.0, "--codon-adaptation", help="Simulated genomes: strength of "
                                           "translational selection on the 5 % most expressed genes, towards each "
                                           "species' own preferred codons (0: off)."),
    overwrite: bool = OVERWRITE_OPTION,
    seed: int = _SEED,
) -> None:
    """Simulate genomes (or take yours) and sample contigs/reads with errors, plus the gold standard."""
    from biocl.data.dna.simulate import sample_contigs, simulate_genomes
    from biocl.data.dna.simulate_metagenome import genome_labels

    check_output(out, overwrite=overwrite, clear=True)  # before any work
    sources: dict[str, Path]
    if genomes:
        sources = genome_labels(genomes)
        manifest = None
    else:
        with stage(f"simulating {n_species * strains} genomes of {genome_bp} bp"):
            simulated = simulate_genomes(out / "genomes", n_species=n_species, strains_per_species=strains,
                                         genome_bp=genome_bp, codon_adaptation=codon_adaptation, seed=seed)
        sources, manifest = dict(simulated.genomes), simulated.manifest
    with stage(f"sampling {contigs_per_genome} {'reads' if fastq else 'contigs'} from each of {len(sources)} genomes"):
        reads, gold = sample_contigs(sources, out / ("contigs.fq" if fastq else "contigs.fa"),
                                     n_per_genome=contigs_per_genome, length_bp=(min_bp, max_bp),
                                     substitution_rate=substitution_rate, insertion_rate=insertion_rate,
                                     deletion_rate=deletion_rate, reverse_complement_fraction=rc_fraction,
                                     fmt="fastq" if fastq else "fasta", seed=seed)
    document = {"genomes": len(sources), "contigs": str(reads), "gold_standard": str(gold),
                "manifest": str(manifest) if manifest else None, "simulated_genomes": not genomes}
    emit(document, f"{len(sources)} genomes -> {reads} ({contigs_per_genome} per genome); gold standard {gold}"
                   + (f"; genomes listed in {manifest}" if manifest else ""))


def simulate_metagenome_command(
    genomes: list[Path] = typer.Argument(..., help="Genome FASTA files, one genome per file (label: the name "
                                         "up to its first dot)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    samples: int = typer.Option(6, "--samples", help="Samples (one BAM each)."),
    species: Path | None = typer.Option(None, "--species", help="TSV 'genome<TAB>species' (default: each genome "
                                        "its own species)."),
    median_contig_bp: int = typer.Option(8_000, "--median-contig-bp", help="Median contig length (bp)."),
    min_contig_bp: int = typer.Option(2_000, "--min-contig-bp", help="Shortest contig (bp)."),
    depth: float = typer.Option(10.0, "--depth", help="Mean depth of a genome at relative abundance 1."),
    abundance_sigma: float = typer.Option(1.0, "--abundance-sigma", help="Sigma of the log-normal abundances."),
    read_bp: int = typer.Option(150, "--read-bp", help="Read length (bp)."),
    substitution_rate: float = typer.Option(0.005, "--substitution-rate", help="Per-base read substitutions."),
    mapper: str = typer.Option("direct", "--mapper", help="'direct' (BAMs from the reads' known origin) or "
                               "'minimap2' (map with minimap2 + samtools)."),
    threads: int = typer.Option(1, "--threads", help="Threads of minimap2 and samtools."),
    overwrite: bool = OVERWRITE_OPTION,
    seed: int = _SEED,
) -> None:
    """Cut real genomes into contigs, sample reads per sample, write BAMs and the gold standard."""
    from biocl.data.dna.simulate_metagenome import simulate_metagenome_from_files

    check_output(out, overwrite=overwrite, clear=True)  # before any work
    with stage(f"simulating {samples} samples of reads from {len(genomes)} genomes"):
        result = simulate_metagenome_from_files(genomes, out, species_table=species, n_samples=samples,
                                                median_contig_bp=median_contig_bp, min_contig_bp=min_contig_bp,
                                                mean_depth=depth, abundance_sigma=abundance_sigma, read_bp=read_bp,
                                                substitution_rate=substitution_rate, mapper=mapper, threads=threads,
                                                seed=seed)
    emit(result, f"{result['genomes']} genomes -> {result['contigs']} contigs ({result['total_bp']} bp, median "
                 f"{result['median_contig_bp']:.0f} bp) in {out / 'contigs.fa'}; {samples} BAMs in "
                 f"{out / 'samples'}; gold standards {out / 'gold_genome.binning'}, {out / 'gold_species.binning'}")
