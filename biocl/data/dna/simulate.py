"""Simulated DNA in the real formats: synthetic genomes, and contigs or reads sampled from any genomes.

:func:`simulate_genomes` writes species whose composition differs the way bacterial
genomes do, so that composition (TNF) separates most of them but not all:

- every species belongs to a "phylum" that sets a GC-content centre (spread over 35-65 %),
  a codon-usage bias and a bias of the intergenic order-2 Markov chain; a species draws
  its own GC content (30-70 %) and smaller deviations around its phylum's biases, so
  species of one phylum are close (the hard cases);
- about 88 % of a genome is genes: ``ATG``, codons drawn from the species' codon usage
  (GC-rich third positions in GC-rich species), a stop codon, on either strand; the rest
  is intergenic sequence from the species' Markov chain;
- with ``codon_adaptation`` > 0, translational selection acts on a few per cent of genes
  (``_HIGHLY_EXPRESSED_FRACTION``, 5 %: the highly expressed ones, ribosomal proteins,
  elongation factors and the like; Sharp & Li 1987, Nucleic Acids Res 15:1281, built the
  codon adaptation index from such a reference set of a few dozen genes out of thousands).
  Their codons lean towards each species' own preferred codons, one per synonymous family,
  which follow the species' tRNA pool (dos Reis et al. 2004, Nucleic Acids Res 32:5036: the
  tRNA adaptation index) and so its GC content: GC-ending codons are preferred more often in
  GC-rich species, with species-specific exceptions. The strength is the log-odds shift of the
  preferred codon, drawn per species uniformly in ``[0, 2 * codon_adaptation]``: Sharp et al.
  2005 (Nucleic Acids Res 33:1141) measured this strength of selected codon usage bias ``S``
  in 80 bacteria at about 0 to 2 (weak in slow growers, strong in fast growers). Species of
  similar GC content share part of their preferred codons, nothing is common to all;
- strains of a species copy one ancestral genome with point substitutions at
  ``strain_divergence``, small indels (1-10 bp, a tenth of that rate) and two or three
  genomic islands with another phylum's composition (horizontal transfer), each 1-4 % of
  the genome and at most 2-8 kb.

:func:`sample_contigs` cuts contigs or reads from genome FASTA files (simulated or real,
multi-record, compressed) with a length distribution, an error model and a share of
reverse-complemented fragments, and writes them with a CAMI bioboxes gold standard.
"""

from __future__ import annotations

import bisect
import gzip
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from biocl.data.dna.fasta import SequenceRecord, read_sequences, write_bioboxes, write_fasta
from biocl.data.dna.windows import reverse_complement
from biocl.utils.docs import fill_doc
from biocl.utils.errors import BioclError
from biocl.utils.io import atomic_path, write_text

__all__ = ["SimulatedGenomes", "simulate_genomes", "sample_contigs", "apply_sequencing_errors",
           "gc_content", "gold_standard_path"]

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_CODONS = ["".join(c) for c in itertools.product("ACGT", repeat=3)]
_STOPS = ("TAA", "TAG", "TGA")
_SENSE = [c for c in _CODONS if c not in _STOPS]
_SENSE_BYTES = np.frombuffer("".join(_SENSE).encode(), dtype=np.uint8).reshape(-1, 3)
# Third positions carry most of the GC pressure in real genomes, first positions some.
_GC_WEIGHT_BY_POSITION = (0.6, 0.3, 1.6)
_MEAN_INTERGENIC_BP = 120
# The standard genetic code, codons in TCAG order; "*" is a stop.
_AMINO_ACIDS = dict(zip(("".join(c) for c in itertools.product("TCAG", repeat=3)),
                        "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"))
_FAMILIES = [np.array([i for i, c in enumerate(_SENSE) if _AMINO_ACIDS[c] == aa])
             for aa in sorted({_AMINO_ACIDS[c] for c in _SENSE})]
_GC3 = np.array([c[2] in "GC" for c in _SENSE], dtype=float)
# Highly expressed genes: a few per cent of a bacterial genome (module docstring).
_HIGHLY_EXPRESSED_FRACTION = 0.05
# Sharp et al. 2005: the strength S of selected codon usage bias is about 0-2 across bacteria.
_MAX_SELECTION_STRENGTH = 2.0
# How strongly a species' GC content pulls its preferred codons towards GC-ending ones,
# against the spread of its own tRNA pool (log-odds per unit of GC above or below 0.5).
_PREFERENCE_GC_PULL = 4.0
# Order 5 gives the intergenic sequence 6-mer biases; codon pairs give genes 6-mer biases.
_MARKOV_ORDER = 5
_N_CONTEXTS = 4 ** _MARKOV_ORDER
# Islands are 1-4 % of the genome each, at most 2-8 kb: a few per cent of a strain, as in real ones.
_ISLAND_FRACTION = (0.01, 0.04)
_ISLAND_MAX_BP = (2_000, 8_000)


@dataclass(frozen=True)
class SimulatedGenomes:
    """What :func:`simulate_genomes` wrote.

    Attributes
    ----------
    out_dir : Path
        The folder.
    manifest : Path
        ``MANIFEST.tsv``: ``file, genome_label, species, strain, length_bp, gc, phylum``.
    genomes : dict of str to Path
        Genome label -> its FASTA file.
    species : dict of str to str
        Genome label -> species.
    phylum : dict of str to str
        Genome label -> phylum (species of one phylum have similar composition).
    gc : dict of str to float
        Genome label -> GC fraction.
    """

    out_dir: Path
    manifest: Path
    genomes: dict[str, Path]
    species: dict[str, str]
    phylum: dict[str, str]
    gc: dict[str, float]


@dataclass(frozen=True)
class _Composition:
    # Nested lists, not arrays: the samplers index them once per base or codon.
    codon_cumulative: list[list[list[float]]]  # (61, 61) next codon given the previous; [1]: highly expressed genes
    stop_p: np.ndarray                    # (3,) stop-codon probabilities
    markov_cumulative: list[list[float]]  # (4**_MARKOV_ORDER, 4) next-base cumulative probabilities given the context


def gc_content(seq: str) -> float:
    """Fraction of G and C among the A, C, G, T bases of ``seq`` (0 when there are none)."""
    acgt = sum(seq.count(b) for b in "ACGT")
    return (seq.count("G") + seq.count("C")) / acgt if acgt else 0.0


def _base_log_p(gc: float) -> np.ndarray:
    """Log-probabilities of A, C, G, T for a GC fraction."""
    return np.log(np.array([1 - gc, gc, gc, 1 - gc]) / 2)


def _cumulative_softmax(logits: np.ndarray) -> list[list[float]]:
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cumulative = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    cumulative[..., -1] = 1.0
    return cumulative.tolist()


def _preferred_codons(gc: float, rng: np.random.Generator) -> np.ndarray:
    """Indicator over sense codons of one species' preferred codon in each synonymous family.

    The preference follows the species' tRNA pool: a GC-ending codon scores
    ``_PREFERENCE_GC_PULL * (gc - 0.5)`` above an AT-ending one, plus a species-specific
    normal draw (which tRNA genes this species happens to carry), and the best codon of each
    family of two or more codons is preferred.
    """
    score = _PREFERENCE_GC_PULL * (gc - 0.5) * (2 * _GC3 - 1) + rng.normal(size=len(_SENSE))
    preferred = np.zeros(len(_SENSE))
    for family in _FAMILIES:
        if len(family) > 1:
            preferred[family[np.argmax(score[family])]] = 1.0
    return preferred


def _composition(gc: float, offsets: dict[str, np.ndarray], rng: np.random.Generator,
                 noise: float, adaptation: float) -> _Composition:
    """A species' composition: its GC term plus its phylum's offsets plus its own deviations.

    With ``adaptation`` > 0 a second codon table holds the highly expressed genes' usage: the
    species' preferred codons (:func:`_preferred_codons`) shifted up by its selection
    strength, ``adaptation * U(0, _MAX_SELECTION_STRENGTH)`` log-odds (0: one table).
    """
    base_log_p = _base_log_p(gc)
    index = {b: i for i, b in enumerate("ACGT")}
    gc_term = np.array([sum(w * base_log_p[index[c[p]]] for p, w in enumerate(_GC_WEIGHT_BY_POSITION))
                        for c in _SENSE])
    codon_logits = gc_term + offsets["codon"] + noise * rng.normal(size=len(_SENSE))
    pair_logits = offsets["codon_pair"] + noise * rng.normal(size=(len(_SENSE), len(_SENSE)))
    markov_logits = base_log_p[None, :] + offsets["markov"] + noise * rng.normal(size=(_N_CONTEXTS, 4))
    shifts = [np.zeros(len(_SENSE))]
    if adaptation > 0:
        # Drawn only when on, so genomes without codon adaptation stay byte-identical.
        strength = adaptation * rng.uniform(0.0, _MAX_SELECTION_STRENGTH)
        shifts.append(strength * _preferred_codons(gc, rng))
    return _Composition(codon_cumulative=[_cumulative_softmax(codon_logits[None, :] + pair_logits + shift[None, :])
                                          for shift in shifts],
                        stop_p=rng.dirichlet(np.full(3, 2.0)),
                        markov_cumulative=_cumulative_softmax(markov_logits))


def _phylum_offsets(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"codon": rng.normal(0.0, 0.6, size=len(_SENSE)),
            "codon_pair": rng.normal(0.0, 0.3, size=(len(_SENSE), len(_SENSE))),
            "markov": rng.normal(0.0, 0.5, size=(_N_CONTEXTS, 4))}


def _markov_sequence(composition: _Composition, length: int, rng: np.random.Generator) -> str:
    cumulative = composition.markov_cumulative
    out = bytearray(length)
    letters = b"ACGT"
    context = int(rng.integers(_N_CONTEXTS))
    for i, u in enumerate(rng.random(length).tolist()):
        row = cumulative[context]
        base = 0 if u < row[0] else 1 if u < row[1] else 2 if u < row[2] else 3
        out[i] = letters[base]
        context = (context * 4 + base) % _N_CONTEXTS
    return out.decode()


def _gene(composition: _Composition, rng: np.random.Generator) -> str:
    n_codons = max(60, int(rng.gamma(2.5, 120)))
    tables = composition.codon_cumulative
    # One table draws nothing, so genomes without codon adaptation stay byte-identical.
    highly_expressed = len(tables) > 1 and rng.random() < _HIGHLY_EXPRESSED_FRACTION
    cumulative = tables[1] if highly_expressed else tables[0]
    codons = np.empty(n_codons, dtype=np.int64)
    previous = int(rng.integers(len(_SENSE)))
    for i, u in enumerate(rng.random(n_codons).tolist()):
        previous = bisect.bisect_right(cumulative[previous], u)
        codons[i] = previous
    body = _SENSE_BYTES[codons].tobytes().decode()
    gene = "ATG" + body + _STOPS[rng.choice(3, p=composition.stop_p)]
    return reverse_complement(gene) if rng.random() < 0.5 else gene


def _genome(composition: _Composition, length_bp: int, rng: np.random.Generator) -> str:
    pieces, total = [], 0
    while total < length_bp:
        for piece in (_markov_sequence(composition, int(rng.geometric(1 / _MEAN_INTERGENIC_BP)), rng),
                      _gene(composition, rng)):
            pieces.append(piece)
            total += len(piece)
    return "".join(pieces)[:length_bp]


def _random_bases(n: int, rng: np.random.Generator) -> np.ndarray:
    return _BASES[rng.integers(0, 4, size=n)]


def _substitute(codes: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Replace a ``rate`` share of A/C/G/T bases by one of the three others (N left alone)."""
    lookup = np.full(256, 255, dtype=np.uint8)
    lookup[_BASES] = np.arange(4)
    index = lookup[codes]
    hit = (rng.random(len(codes)) < rate) & (index < 4)
    out = codes.copy()
    out[hit] = _BASES[(index[hit] + rng.integers(1, 4, size=int(hit.sum()))) % 4]
    return out


def apply_sequencing_errors(seq: str, rng: np.random.Generator, *, substitution_rate: float = 0.0,
                            insertion_rate: float = 0.0, deletion_rate: float = 0.0) -> str:
    """Apply independent per-base errors to a sequence.

    Each base is deleted with probability ``deletion_rate``; a kept A/C/G/T base is
    substituted by one of the other three with probability ``substitution_rate``; after
    each base a random base is inserted with probability ``insertion_rate``.

    Parameters
    ----------
    seq : str
        Upper-case sequence.
    rng : numpy.random.Generator
        Source of randomness.
    substitution_rate, insertion_rate, deletion_rate : float
        Per-base probabilities in [0, 1) (long reads: 0.05-0.10 in total).

    Returns
    -------
    read : str
    """
    for name, rate in (("substitution", substitution_rate), ("insertion", insertion_rate),
                       ("deletion", deletion_rate)):
        if not 0.0 <= rate < 1.0:
            raise BioclError(f"the {name} rate must be in [0, 1), not {rate}", hint="give a per-base probability")
    if not (substitution_rate or insertion_rate or deletion_rate):
        return seq
    codes = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    if substitution_rate:
        codes = _substitute(codes, substitution_rate, rng)
    keep = rng.random(len(codes)) >= deletion_rate
    insert = rng.random(len(codes)) < insertion_rate
    # Position i emits its own base (when kept) then an inserted base (when drawn).
    emitted = np.stack([codes, _random_bases(len(codes), rng)], axis=1)
    return emitted[np.stack([keep, insert], axis=1)].tobytes().decode()


def _strain(ancestor: str, divergence: float, islands: list[_Composition], rng: np.random.Generator) -> str:
    codes = _substitute(np.frombuffer(ancestor.encode(), dtype=np.uint8), divergence, rng)
    genome = codes.tobytes().decode()
    n_indels = int(rng.poisson(len(genome) * divergence / 10))
    events = [(int(p), "indel") for p in rng.integers(0, len(genome), size=n_indels)]
    events += [(int(p), i) for i, p in enumerate(rng.integers(0, len(genome), size=len(islands)))]
    pieces, cursor = [], 0
    for position, event in sorted(events, key=lambda e: e[0]):
        if position < cursor:
            continue
        pieces.append(genome[cursor:position])
        cursor = position
        if event == "indel":
            size = int(rng.integers(1, 11))
            if rng.random() < 0.5:
                cursor += size
            else:
                pieces.append(_random_bases(size, rng).tobytes().decode())
        else:
            low, high = (min(int(f * len(ancestor)), cap) for f, cap in zip(_ISLAND_FRACTION, _ISLAND_MAX_BP))
            pieces.append(_genome(islands[event], int(rng.integers(low, high + 1)), rng))
    pieces.append(genome[cursor:])
    return "".join(pieces)


@fill_doc
def simulate_genomes(out_dir: str | Path, *, n_species: int = 12, strains_per_species: int = 2,
                     genome_bp: int = 200_000, strain_divergence: float = 0.01, seed: int = 0,
                     n_phyla: int | None = None, species_divergence: float = 0.3,
                     codon_adaptation: float = 0.0) -> SimulatedGenomes:
    """Write synthetic bacterial-like genomes: one FASTA per strain plus ``MANIFEST.tsv``.

    See the module docstring for the composition model. The same arguments give the same
    files, byte for byte.

    Parameters
    ----------
    out_dir : str | Path
        Folder to write (created; existing files of the same names are replaced).
    n_species : int
        Species.
    strains_per_species : int
        Strains (genomes) per species.
    genome_bp : int
        Ancestral genome length in base pairs (strains differ by indels and islands).
    strain_divergence : float
        Per-base substitution rate between a strain and its species' ancestor.
    %(seed)s
    n_phyla : int | None
        Phyla; ``None`` means one per four species (at least one).
    species_divergence : float
        Standard deviation of a species' own codon, codon-pair and Markov log-odds around
        its phylum's (lower: species of a phylum are harder to tell apart).
    codon_adaptation : float
        Scale of translational selection on the highly expressed genes (5 % of genes) towards
        each species' own preferred codons (module docstring): 1 gives selection strengths
        of 0-2 log-odds, the range Sharp et al. 2005 measured in bacteria; 0 turns it off.

    Returns
    -------
    genomes : SimulatedGenomes
    """
    if n_species < 1 or strains_per_species < 1 or genome_bp < 1_000:
        raise BioclError("need at least one species, one strain and 1,000 bp genomes",
                         hint="raise n_species, strains_per_species or genome_bp")
    if codon_adaptation < 0:
        raise BioclError(f"codon_adaptation must be >= 0, not {codon_adaptation}", hint="0 turns it off")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_phyla = max(1, round(n_species / 4)) if n_phyla is None else n_phyla
    root = np.random.default_rng(seed)
    phylum_gc = root.permutation(np.linspace(0.35, 0.65, n_phyla) + root.uniform(-0.03, 0.03, n_phyla))
    phylum_offsets = [_phylum_offsets(root) for _ in range(n_phyla)]
    species_rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n_species)]
    compositions, species_phylum = [], []
    for s, rng in enumerate(species_rngs):
        p = s % n_phyla
        gc = float(np.clip(phylum_gc[p] + rng.normal(0.0, 0.04), 0.30, 0.70))
        compositions.append(_composition(gc, phylum_offsets[p], rng, noise=species_divergence,
                                         adaptation=codon_adaptation))
        species_phylum.append(p)
    genomes, species, phylum, gcs = {}, {}, {}, {}
    rows = ["\t".join(["file", "genome_label", "species", "strain", "length_bp", "gc", "phylum"])]
    for s, rng in enumerate(species_rngs):
        ancestor = _genome(compositions[s], genome_bp, rng)
        donors = [c for i, c in enumerate(compositions) if species_phylum[i] != species_phylum[s]] or compositions
        for t in range(strains_per_species):
            islands = [donors[rng.integers(len(donors))] for _ in range(int(rng.integers(2, 4)))]
            genome = _strain(ancestor, strain_divergence, islands, rng)
            label = f"sp{s:02d}_st{t}"
            path = write_fasta(out_dir / f"{label}.fa", [SequenceRecord(label, genome, len(genome))])
            genomes[label], species[label] = path, f"sp{s:02d}"
            phylum[label], gcs[label] = f"ph{species_phylum[s]}", round(gc_content(genome), 4)
            rows.append("\t".join([path.name, label, species[label], str(t), str(len(genome)),
                                   f"{gcs[label]:.4f}", phylum[label]]))
    manifest = write_text(out_dir / "MANIFEST.tsv", "\n".join(rows) + "\n")
    return SimulatedGenomes(out_dir, manifest, genomes, species, phylum, gcs)


def _draw_lengths(spec: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"median_bp", "sigma", "min_bp", "max_bp"}
        if unknown or "median_bp" not in spec:
            raise BioclError(f"a lognormal length needs median_bp (and optional sigma, min_bp, max_bp); "
                             f"got {sorted(spec)}", hint="e.g. {'median_bp': 5000, 'sigma': 0.5}")
        lengths = rng.lognormal(np.log(spec["median_bp"]), spec.get("sigma", 0.5), size=n)
        lengths = np.clip(lengths, spec.get("min_bp", 1), spec.get("max_bp", np.inf))
        return lengths.astype(np.int64)
    low, high = (int(v) for v in spec)
    if not 0 < low <= high:
        raise BioclError(f"length range must be 0 < low <= high, not {spec}", hint="e.g. (2500, 10000)")
    return rng.integers(low, high + 1, size=n)


def gold_standard_path(reads_path: str | Path) -> Path:
    """The gold standard written beside a reads file: ``reads.fa.gz`` -> ``reads.binning``."""
    path = Path(reads_path)
    name = path.name
    for suffix in (".gz", ".bz2", ".fasta", ".fa", ".fna", ".fastq", ".fq"):
        name = name.removesuffix(suffix)
    return path.with_name(f"{name}.binning")


@fill_doc
def sample_contigs(genomes: Mapping[str, str | Path], out_path: str | Path, *, n_per_genome: int = 50,
                   length_bp: tuple[int, int] | Mapping[str, float] = (2_500, 10_000),
                   substitution_rate: float = 0.0, insertion_rate: float = 0.0, deletion_rate: float = 0.0,
                   reverse_complement_fraction: float = 0.5, fmt: Literal["fasta", "fastq"] = "fasta",
                   seed: int = 0) -> tuple[Path, Path]:
    """Sample contigs or reads from genome FASTA files and write them with their gold standard.

    Each fragment is taken from a uniformly drawn position of the genome (records chosen
    in proportion to the positions they offer; a fragment longer than every record is
    shortened to the longest), reverse-complemented with probability
    ``reverse_complement_fraction``, then given sequencing errors
    (:func:`apply_sequencing_errors`). Fragments of all genomes are shuffled and named
    ``contig_000000`` ... so neither names nor order reveal the genome.

    Parameters
    ----------
    genomes : mapping of str to path
        Genome label -> FASTA/FASTQ file (plain or compressed, one or more records).
    out_path : str | Path
        The contigs file (``.gz`` suffix: gzip-compressed).
    n_per_genome : int
        Fragments per genome.
    length_bp : (int, int) | mapping
        Fragment length in base pairs: uniform over ``(low, high)``, or a lognormal
        ``{"median_bp", "sigma", "min_bp", "max_bp"}``.
    substitution_rate, insertion_rate, deletion_rate : float
        Per-base error probabilities.
    reverse_complement_fraction : float
        Share of fragments written as the reverse strand.
    fmt : {"fasta", "fastq"}
        Output format; FASTQ qualities are the Phred score of the total error rate (max 40).
    %(seed)s

    Returns
    -------
    reads_path, gold_path : Path
        The fragments and a bioboxes gold standard (:func:`gold_standard_path`) with columns
        ``BINID`` (genome label), ``_LENGTH``, and the source ``_RECORD``, ``_START``,
        ``_END`` (0-based, end exclusive, forward strand) and ``_STRAND``.
    """
    if fmt not in ("fasta", "fastq"):
        raise BioclError(f"unknown output format {fmt!r}", hint="use 'fasta' or 'fastq'")
    if not 0.0 <= reverse_complement_fraction <= 1.0:
        raise BioclError(f"reverse_complement_fraction must be in [0, 1], not {reverse_complement_fraction}")
    if not genomes:
        raise BioclError("no genome to sample from", hint="give at least one genome FASTA file")
    rng = np.random.default_rng(seed)
    fragments = []
    for label, path in genomes.items():
        records = list(read_sequences(path, min_length_bp=1))
        record_lengths = np.array([r.length_bp for r in records])
        for length in _draw_lengths(length_bp, n_per_genome, rng):
            length = int(min(max(length, 1), record_lengths.max()))
            positions = np.maximum(record_lengths - length + 1, 0)
            record = records[rng.choice(len(records), p=positions / positions.sum())]
            start = int(rng.integers(0, record.length_bp - length + 1))
            fragment = record.seq[start:start + length]
            strand = "-" if rng.random() < reverse_complement_fraction else "+"
            if strand == "-":
                fragment = reverse_complement(fragment)
            fragment = apply_sequencing_errors(fragment, rng, substitution_rate=substitution_rate,
                                               insertion_rate=insertion_rate, deletion_rate=deletion_rate)
            fragments.append((fragment, label, record.id, start, start + length, strand))
    order = rng.permutation(len(fragments))
    names = [f"contig_{i:06d}" for i in range(len(fragments))]
    shuffled = [fragments[i] for i in order]
    out_path = Path(out_path)
    if fmt == "fasta":
        write_fasta(out_path, (SequenceRecord(n, f[0], len(f[0])) for n, f in zip(names, shuffled)))
    else:
        error_rate = max(substitution_rate + insertion_rate + deletion_rate, 1e-4)
        quality_char = chr(33 + min(40, int(round(-10 * np.log10(error_rate)))))
        with atomic_path(out_path) as tmp:
            opener = gzip.open if out_path.suffix == ".gz" else open
            with opener(tmp, "wt", encoding="ascii") as handle:
                for name, fragment in zip(names, shuffled):
                    handle.write(f"@{name}\n{fragment[0]}\n+\n{quality_char * len(fragment[0])}\n")
    columns = {"_LENGTH": 0, "_RECORD": 2, "_START": 3, "_END": 4, "_STRAND": 5}
    extra = {column: {n: (len(f[0]) if i == 0 else f[i]) for n, f in zip(names, shuffled)}
             for column, i in columns.items()}
    gold = write_bioboxes(gold_standard_path(out_path), {n: f[1] for n, f in zip(names, shuffled)},
                          sample_id=out_path.name, extra_columns=extra)
    return out_path, gold
