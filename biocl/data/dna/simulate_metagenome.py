"""A metagenome from real genomes: contigs, per-sample abundances, reads and BAM files, with the truth.

What ``biocl simulate metagenome GENOMES... --samples 6 --out DIR`` writes, so that binning
with coverage can be tested and benchmarked against a known answer:

* **Contigs** cut *completely* from every genome record (no base left out, none shared):
  lengths drawn log-normal with a median of ``median_contig_bp`` (8 kb by default; MEGAHIT
  and metaSPAdes assemblies of real communities have contig N50s of a few to ~10 kb) and
  never below ``min_contig_bp`` (2 kb, the binners' usual minimum); a remainder that would
  be shorter joins the last contig, a record shorter than the minimum is left out (and
  counted). Scaffold gaps (runs of 10 or more N) end a contig and are left out, since
  assemblers' contigs never span them (an all-N contig also stops VAMB). Half of the contigs are reverse-complemented (assemblers orient contigs
  arbitrarily), ids are random (``contig_<hex>``) and the file order is shuffled, so
  neither order nor name gives the genome away.
* **Abundances**: each genome's relative abundance in each sample is log-normal
  (``abundance_sigma``, independently across genomes and samples: the usual model of
  community profiles, e.g. CAMISIM's default log-normal with sigma 1); the mean depth of a
  genome in a sample is ``mean_depth`` times it.
* **Reads**: single reads of ``read_bp`` drawn uniformly along each contig (Poisson
  counts at that depth), substitutions at ``substitution_rate`` (Illumina-like), each read
  on either strand.
* **BAM files**, one per sample, coordinate-sorted and indexed: by default written directly
  with pysam from every read's known origin (fast, no aligner; ``NM`` gives its
  substitutions); with ``mapper="minimap2"`` the reads are written as FASTQ and mapped with
  ``minimap2 -ax sr | samtools sort`` (both must be on the PATH).
* **Gold standards**: ``gold_genome.binning`` and ``gold_species.binning`` (CAMI bioboxes
  with ``_LENGTH``), and ``abundances.tsv`` (genome x sample depth).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from contextlib import nullcontext
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from biocl.data.dna.fasta import SequenceRecord, read_sequences, write_bioboxes, write_fasta
from biocl.data.dna.windows import reverse_complement
from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError
from biocl.utils.imports import soft_import
from biocl.utils.io import write_json, write_text

__all__ = ["SimulatedMetagenome", "simulate_metagenome", "simulate_metagenome_from_files", "cut_contigs",
           "genome_labels", "MAPPERS"]

#: How the reads reach the BAM files.
MAPPERS = ("direct", "minimap2")

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
#: A scaffold gap: 10 or more ambiguous bases in a row.
_GAP = re.compile(r"[Nn]{10,}")


@dataclass
class SimulatedMetagenome:
    """Paths and counts of a simulated metagenome.

    Attributes
    ----------
    contigs : Path
        The contigs (FASTA).
    bams : list of Path
        One coordinate-sorted, indexed BAM per sample.
    gold_genome, gold_species : Path
        Bioboxes gold standards (contig -> genome, contig -> species).
    abundances : Path
        Mean depth of each genome in each sample (TSV).
    summary : dict
        Counts and settings (also written to ``summary.json``).
    """

    contigs: Path
    bams: list[Path]
    gold_genome: Path
    gold_species: Path
    abundances: Path
    summary: dict = field(default_factory=dict)


def cut_contigs(sequence: str, rng: np.random.Generator, *, median_bp: int = 8_000, sigma: float = 0.8,
                min_bp: int = 2_000) -> list[tuple[int, int]]:
    """Cut one sequence completely into consecutive pieces of log-normal length, none below ``min_bp``.

    Parameters
    ----------
    sequence : str
        The genome record.
    rng : numpy.random.Generator
        Source of the lengths.
    median_bp : int
        Median piece length (bp).
    sigma : float
        Standard deviation of the log length.
    min_bp : int
        Shortest piece (bp); a shorter remainder joins the last piece.

    Returns
    -------
    pieces : list of (start, end)
        0-based half-open, covering ``[0, len(sequence))`` exactly; empty when the sequence
        is shorter than ``min_bp``.
    """
    total = len(sequence)
    pieces: list[tuple[int, int]] = []
    start = 0
    while total - start >= min_bp:
        length = max(min_bp, int(round(rng.lognormal(np.log(median_bp), sigma))))
        end = start + length
        if total - end < min_bp:
            end = total
        pieces.append((start, end))
        start = end
    return pieces


def _mutate(reads: np.ndarray, rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Substitute bases of a (n_reads, read_bp) array at ``rate``; the reads and each one's substitutions."""
    if rate <= 0 or reads.size == 0:
        return reads, np.zeros(len(reads), dtype=np.int64)
    hits = rng.random(reads.shape) < rate
    # A substitution always changes the base: add 1-3 modulo 4 to its code (N stays an ambiguous base).
    codes = np.searchsorted(_BASES, reads[hits]).clip(0, 3)
    reads = reads.copy()
    reads[hits] = _BASES[(codes + rng.integers(1, 4, codes.size)) % 4]
    return reads, hits.sum(axis=1)


def _write_sample(out: Path, contigs: list[SequenceRecord], depths: np.ndarray, *, read_bp: int,
                  substitution_rate: float, rng: np.random.Generator, mapper: str, threads: int) -> Path:
    """Sample reads at ``depths`` (one per contig) and write the sample's sorted, indexed BAM."""
    pysam = soft_import("pysam", "writing simulated BAM files")
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": c.id, "LN": c.length_bp} for c in contigs]}
    fastq = out.with_suffix(".fq") if mapper == "minimap2" else None
    bam_path = out.with_suffix(".bam")
    quality = pysam.qualitystring_to_array("I" * read_bp)
    n_reads = 0
    with (nullcontext() if fastq else pysam.AlignmentFile(str(bam_path), "wb", header=header)) as bam, \
            (open(fastq, "w") if fastq else nullcontext()) as fq:
        for ref_id, (contig, depth) in enumerate(zip(contigs, depths)):
            if contig.length_bp < read_bp:
                continue
            codes = np.frombuffer(contig.seq.encode("ascii"), dtype=np.uint8)
            count = rng.poisson(depth * contig.length_bp / read_bp)
            starts = np.sort(rng.integers(0, contig.length_bp - read_bp + 1, count))
            reverse = rng.random(count) < 0.5
            reads, edits = _mutate(codes[starts[:, None] + np.arange(read_bp)], substitution_rate, rng)
            for start, rev, read, edit in zip(starts, reverse, reads, edits):
                text = read.tobytes().decode("ascii")
                name = f"{out.stem}_{n_reads}"
                n_reads += 1
                if fastq:
                    fq.write(f"@{name}\n{reverse_complement(text) if rev else text}\n+\n{'I' * read_bp}\n")
                    continue
                segment = pysam.AlignedSegment(bam.header)
                segment.query_name, segment.query_sequence = name, text
                segment.flag = 16 if rev else 0
                segment.reference_id, segment.reference_start = ref_id, int(start)
                segment.mapping_quality, segment.cigartuples = 60, [(0, read_bp)]
                segment.query_qualities = quality
                segment.set_tag("NM", int(edit))
                bam.write(segment)
    if fastq:
        _map_reads(out.parent.parent / "contigs.fa", fastq, bam_path, threads)
    pysam.index(str(bam_path))
    return bam_path


def _map_reads(contigs: Path, fastq: Path, bam_path: Path, threads: int) -> None:
    if not (shutil.which("minimap2") and shutil.which("samtools")):
        raise BioclError("mapper 'minimap2' needs minimap2 and samtools on the PATH",
                         hint="install them (apt-get install minimap2 samtools) or use the direct BAMs")
    mapping = subprocess.Popen(["minimap2", "-ax", "sr", "-t", str(threads), str(contigs), str(fastq)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    sort = subprocess.run(["samtools", "sort", "-@", str(max(0, threads - 1)), "-o", str(bam_path), "-"],
                          stdin=mapping.stdout, stderr=subprocess.PIPE)
    mapping.stdout.close()
    if mapping.wait() != 0 or sort.returncode != 0:
        raise BioclError(f"mapping the reads failed ({sort.stderr.decode(errors='replace')[-200:]})", path=fastq)
    fastq.unlink()


def _read_genomes(genomes: Mapping[str, str | Path]) -> dict[str, list[str]]:
    sequences = {}
    for label, path in genomes.items():
        if not Path(path).is_file():
            raise BioclError("genome file not found", path=path)
        sequences[label] = [r.seq for r in read_sequences(path, min_length_bp=0, ambiguous="mask")]
    return sequences


@fill_doc
def simulate_metagenome(genomes: Mapping[str, str | Path], out_dir: str | Path, *,
                        species: Mapping[str, str] | None = None, n_samples: int = 6,
                        median_contig_bp: int = 8_000, contig_sigma: float = 0.8, min_contig_bp: int = 2_000,
                        mean_depth: float = 10.0, abundance_sigma: float = 1.0, read_bp: int = 150,
                        substitution_rate: float = 0.005, mapper: str = "direct", threads: int = 1,
                        seed: int = 0) -> SimulatedMetagenome:
    """Write a metagenome made from ``genomes`` (see the module docstring) into ``out_dir``.

    Parameters
    ----------
    genomes : mapping of str to str | Path
        Genome label -> FASTA file (every record of the file belongs to that genome).
    out_dir : str | Path
        Output folder (created): ``contigs.fa``, ``samples/<sample>.bam`` (+ ``.bai``),
        ``gold_genome.binning``, ``gold_species.binning``, ``abundances.tsv``, ``summary.json``.
    species : mapping of str to str | None
        Genome label -> species; None makes every genome its own species.
    n_samples : int
        Samples (one BAM each).
    median_contig_bp, contig_sigma, min_contig_bp
        Contig length distribution (bp; sigma of the log length); see :func:`cut_contigs`.
    mean_depth : float
        Depth (reads x read length / genome length) of a genome of relative abundance 1.
    abundance_sigma : float
        Sigma of the log-normal abundance of a genome in a sample.
    read_bp : int
        Read length (bp).
    substitution_rate : float
        Per-base substitution rate of the reads.
    mapper : {"direct", "minimap2"}
        BAMs from the reads' known origin, or by mapping them.
    threads : int
        Threads of minimap2 and samtools.
    %(seed)s

    Returns
    -------
    metagenome : SimulatedMetagenome
    """
    if mapper not in MAPPERS:
        raise BioclError(f"unknown mapper {mapper!r}", hint="use 'direct' or 'minimap2'")
    if n_samples < 1 or mean_depth <= 0 or read_bp < 20 or min_contig_bp < read_bp:
        raise BioclError("need at least one sample, a positive depth, reads of >= 20 bp and contigs longer "
                         "than a read", hint="check --samples, --depth, --read-bp and --min-contig-bp")
    species = dict(species or {})
    unknown = set(species) - set(genomes)
    if unknown:
        raise BioclError(f"species given for unknown genome {sorted(unknown)[0]!r}",
                         hint=f"genome labels are {', '.join(sorted(genomes))}")
    out_dir = Path(out_dir)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    contigs, origin, dropped_bp = [], [], 0
    for label, records in _read_genomes(genomes).items():
        # Scaffold gaps (runs of N) end contigs, as an assembler's contigs never span them.
        parts = [part for record in records for part in _GAP.split(record)]
        dropped_bp += sum(map(len, records)) - sum(map(len, parts))
        for seq in parts:
            pieces = cut_contigs(seq, rng, median_bp=median_contig_bp, sigma=contig_sigma, min_bp=min_contig_bp)
            dropped_bp += len(seq) - sum(e - s for s, e in pieces)
            for start, end in pieces:
                piece = seq[start:end]
                contigs.append(reverse_complement(piece) if rng.random() < 0.5 else piece)
                origin.append(label)
    if not contigs:
        raise BioclError(f"no genome record reaches {min_contig_bp} bp", hint="lower --min-contig-bp")
    order = rng.permutation(len(contigs))
    ids = [f"contig_{int(x):012x}" for x in rng.choice(16 ** 12, size=len(contigs), replace=False)]
    records = [SequenceRecord(ids[k], contigs[i], len(contigs[i])) for k, i in enumerate(order)]
    labels = [origin[i] for i in order]
    contigs_path = write_fasta(out_dir / "contigs.fa", records)
    labels_list = list(genomes)
    abundance = rng.lognormal(-abundance_sigma ** 2 / 2, abundance_sigma, size=(len(labels_list), n_samples))
    genome_depth = mean_depth * abundance
    row_of = np.array([labels_list.index(g) for g in labels])
    samples = [f"S{s + 1}" for s in range(n_samples)]
    bams = [_write_sample(out_dir / "samples" / f"{name}.bam", records, genome_depth[row_of, s], read_bp=read_bp,
                          substitution_rate=substitution_rate, rng=rng, mapper=mapper, threads=threads)
            for s, name in enumerate(samples)]
    lengths = {r.id: r.length_bp for r in records}
    gold_genome = write_bioboxes(out_dir / "gold_genome.binning", dict(zip(ids, labels)),
                                 extra_columns={"_LENGTH": lengths})
    gold_species = write_bioboxes(out_dir / "gold_species.binning",
                                  {i: species.get(g, g) for i, g in zip(ids, labels)},
                                  extra_columns={"_LENGTH": lengths})
    table = ["genome\tspecies\t" + "\t".join(samples)]
    table += [f"{g}\t{species.get(g, g)}\t" + "\t".join(f"{d:.4f}" for d in genome_depth[i])
              for i, g in enumerate(labels_list)]
    abundances = write_text(out_dir / "abundances.tsv", "\n".join(table) + "\n")
    lengths_bp = np.array([r.length_bp for r in records])
    summary = {"genomes": len(genomes), "species": len({species.get(g, g) for g in genomes}),
               "contigs": len(records), "total_bp": int(lengths_bp.sum()),
               "median_contig_bp": float(np.median(lengths_bp)), "min_contig_bp": int(lengths_bp.min()),
               "dropped_bp": int(dropped_bp), "samples": n_samples, "mapper": mapper, "mean_depth": mean_depth,
               "abundance_sigma": abundance_sigma, "read_bp": read_bp, "substitution_rate": substitution_rate,
               "seed": seed, "bams": [str(b) for b in bams]}
    write_json(out_dir / "summary.json", summary)
    return SimulatedMetagenome(contigs_path, bams, gold_genome, gold_species, abundances, summary)


def genome_labels(paths: list[str | Path]) -> dict[str, Path]:
    """Genome label (the file name up to its first dot) -> file, one genome per file.

    Raises
    ------
    BioclError
        A missing file, or two files giving the same label.
    """
    labels: dict[str, Path] = {}
    for path in map(Path, paths):
        label = path.name.split(".")[0]
        if label in labels:
            raise BioclError(f"two genome files give the label {label!r}", path=path, hint="rename one of them")
        if not path.is_file():
            raise BioclError("genome file not found", path=path)
        labels[label] = path
    return labels


def _read_species_table(path: Path) -> dict[str, str]:
    species = {}
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[1].strip():
            raise BioclError(f"line {line_no} is not 'genome<TAB>species'", path=path)
        species[fields[0].strip()] = fields[1].strip()
    return species


def simulate_metagenome_from_files(genomes: list[str | Path], out_dir: str | Path, *,
                                   species_table: str | Path | None = None, **settings) -> dict:
    """:func:`simulate_metagenome` from genome files (labels from their names) and a species TSV.

    Parameters
    ----------
    genomes : list of str | Path
        One genome per file (:func:`genome_labels`).
    out_dir : str | Path
        Output folder.
    species_table : str | Path | None
        ``genome<TAB>species`` lines; None makes every genome its own species.
    **settings
        Passed to :func:`simulate_metagenome`.

    Returns
    -------
    dict
        The metagenome's summary.
    """
    if species_table is not None and not Path(species_table).is_file():
        raise BioclError("species table not found", path=species_table)
    species = _read_species_table(Path(species_table)) if species_table is not None else None
    return simulate_metagenome(genome_labels(genomes), out_dir, species=species, **settings).summary
