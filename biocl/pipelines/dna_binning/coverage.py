"""Coverage for `biocl dna bin|embed`: read it (BAMs or a depth table) and turn it into the coverage view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biocl.data.dna.coverage import Coverage, DepthSettings, bam_depths, read_depth_table
from biocl.pipelines.dna_binning.views import coverage_bandwidth, coverage_kernel_features, log_coverage_profiles
from biocl.utils.errors import BioclError

__all__ = ["CoverageOptions", "load_coverage", "coverage_view"]


@dataclass(frozen=True)
class CoverageOptions:
    """Where coverage comes from and how it enters the binning.

    Parameters
    ----------
    bams : tuple of Path
        Coordinate-sorted BAM files, one per sample.
    abundance : Path | None
        A depth table instead (MetaBAT2, VAMB or CoverM; :func:`biocl.data.dna.coverage.read_depth_table`).
    depth : DepthSettings
        Edge trimming, identity and MAPQ filters for BAMs (MetaBAT2's defaults).
    threads : int
        pysam decompression threads.
    weight : float
        Weight of composition in the fused similarity (coverage gets ``1 - weight``).
    read_bp : int
        Read length (bp) behind the Poisson noise model of the coverage view.
    bandwidth_factor : float
        Kernel bandwidth over the typical same-genome distance (:func:`coverage_bandwidth`).
    n_features : int
        Random Fourier features of the coverage kernel.
    """

    bams: tuple[Path, ...] = ()
    abundance: Path | None = None
    depth: DepthSettings = field(default_factory=DepthSettings)
    threads: int = 1
    weight: float = 0.5
    read_bp: int = 150
    bandwidth_factor: float = 3.0
    n_features: int = 128

    @property
    def given(self) -> bool:
        """Whether any coverage input is given."""
        return bool(self.bams) or self.abundance is not None

    def as_dict(self) -> dict[str, Any]:
        """The settings as recorded in ``summary.json``."""
        return {"bams": [str(b) for b in self.bams], "abundance": str(self.abundance) if self.abundance else None,
                "depth": self.depth.as_dict() if self.bams else None, "weight": self.weight,
                "read_bp": self.read_bp, "bandwidth_factor": self.bandwidth_factor, "n_features": self.n_features}


def load_coverage(options: CoverageOptions, contigs: dict[str, int]) -> Coverage:
    """The coverage of ``contigs`` (id -> length, bp) from the BAMs or the table, rows in that order.

    Raises
    ------
    BioclError
        Both or neither input given, or any error of the readers (a missing contig included).
    """
    if options.bams and options.abundance is not None:
        raise BioclError("give --bam or --abundance, not both", hint="a depth table already holds every sample")
    if not 0.0 <= options.weight <= 1.0:
        raise BioclError(f"--coverage-weight must lie in [0, 1], not {options.weight}")
    if options.bams:
        return bam_depths(list(options.bams), contigs, settings=options.depth, threads=options.threads)
    if options.abundance is None:
        raise BioclError("no coverage input", hint="pass --bam per sample or --abundance TABLE")
    return read_depth_table(options.abundance).aligned_to(list(contigs), path=options.abundance)


def coverage_view(coverage: Coverage, lengths_bp: Sequence[int], options: CoverageOptions,
                  *, seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Kernel features of the coverage view (see :mod:`biocl.pipelines.dna_binning.views`) and what was used.

    Returns
    -------
    features : ndarray of float32, shape (n_contigs, n_features)
    info : dict
        ``samples``, ``source``, ``bandwidth`` (log-depth units).
    """
    lengths = np.asarray(lengths_bp, dtype=np.float64)
    profiles = log_coverage_profiles(coverage.depth, lengths, read_bp=options.read_bp)
    bandwidth = coverage_bandwidth(coverage.depth, lengths, read_bp=options.read_bp,
                                   bandwidth_factor=options.bandwidth_factor)
    features = coverage_kernel_features(profiles, bandwidth, n_features=options.n_features,
                                        rng=np.random.default_rng([seed, 0xC0E]))
    return features, {"samples": coverage.samples, "source": coverage.source, "bandwidth": bandwidth}
