"""Two views of a contig for binning: composition (the encoder's embedding or TNF) and coverage.

The kNN-graph binner compares contigs by cosine similarity. To give it both signals, each
view becomes a block of one vector whose blocks' dot products are the views' own
similarities, so that the fused cosine is their weighted mean:

``cos(fused_i, fused_j) ~= w * cos(composition_i, composition_j) + (1 - w) * k(coverage_i, coverage_j)``

* **Composition**: the L2-normalised embedding (the self-trained encoder's, or TNF).
* **Coverage** (VAMB's sample normalisation, MetaBAT's abundance model): each sample's
  depths are divided by that sample's length-weighted mean depth (so sequencing depth does
  not matter), then logged with a floor of one read's worth of depth (``read_bp /
  length_bp``), so that zero depth and noise of short, rare contigs stay finite.
  ``k`` is a Gaussian kernel on these log profiles, ``exp(-|a - b|^2 / (2 h^2))``,
  represented by random Fourier features (Rahimi & Recht 2007; ``n_features`` of them, so
  its dot products are unbiased estimates with standard deviation about
  ``1 / sqrt(n_features)``). Unlike a cosine of profiles it sees scale (two genomes
  whose abundances differ by a constant factor in every sample are told apart) and it
  works with a single sample.
* **Bandwidth without labels**: under Poisson read sampling a contig with ``n`` reads in a
  sample has a log depth with variance about ``1 / n``; the squared distance between two
  contigs of one genome is then about the sum of both contigs' variances over the samples.
  ``h`` is ``bandwidth_factor`` times the square root of the median of that sum, so a
  typical pair of contigs of one genome scores ``exp(-1 / (2 * factor^2))`` (0.95 at the
  default 3) while genomes whose log abundances differ by many noise widths score near 0.

This is late fusion of two fixed views, as VAMB concatenates TNF and abundances before
its autoencoder; COMEBin and SemiBin2 go further and *learn* a coverage network from
augmented views (sub-contigs with their coverage recomputed). That learned coverage view
is not built yet (docs/dna_species.md says so); the shared heads never see coverage, only
the pipeline's embeddings.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_coverage_profiles", "coverage_bandwidth", "coverage_kernel_features", "fuse_views"]


def log_coverage_profiles(depth: np.ndarray, lengths_bp: np.ndarray, *, read_bp: int = 150) -> np.ndarray:
    """Log depth of each contig in each sample relative to the sample's mean, floored at one read.

    Parameters
    ----------
    depth : ndarray of shape (n_contigs, n_samples)
        Mean depth (reads per base).
    lengths_bp : ndarray of shape (n_contigs,)
        Contig lengths (bp).
    read_bp : int
        Read length (bp): one read on a contig of ``L`` bp is a depth of ``read_bp / L``.

    Returns
    -------
    profiles : ndarray of float64, shape (n_contigs, n_samples)
    """
    depth = np.asarray(depth, dtype=np.float64)
    lengths = np.asarray(lengths_bp, dtype=np.float64)
    floor = (read_bp / lengths)[:, None]
    sample_mean = (depth * lengths[:, None]).sum(axis=0) / lengths.sum()
    scale = np.where(sample_mean > 0, sample_mean, 1.0)
    return np.log((np.maximum(depth, floor)) / scale)


def coverage_bandwidth(depth: np.ndarray, lengths_bp: np.ndarray, *, read_bp: int = 150,
                       bandwidth_factor: float = 3.0) -> float:
    """The Gaussian kernel's bandwidth ``h`` from the Poisson noise of the log depths (no labels).

    Parameters
    ----------
    depth, lengths_bp, read_bp
        As in :func:`log_coverage_profiles`.
    bandwidth_factor : float
        ``h`` over the typical distance between two contigs of one genome.

    Returns
    -------
    h : float
        In log-depth units.
    """
    reads = np.asarray(depth, dtype=np.float64) * np.asarray(lengths_bp, dtype=np.float64)[:, None] / read_bp
    per_contig = (1.0 / (reads + 1.0)).sum(axis=1)
    return float(bandwidth_factor * np.sqrt(2.0 * np.median(per_contig)))


def coverage_kernel_features(profiles: np.ndarray, bandwidth: float, *, n_features: int = 128,
                             rng: np.random.Generator) -> np.ndarray:
    """Random Fourier features whose dot products estimate a Gaussian kernel on the profiles.

    Parameters
    ----------
    profiles : ndarray of shape (n_contigs, n_samples)
        :func:`log_coverage_profiles`.
    bandwidth : float
        ``h`` of ``exp(-|a - b|^2 / (2 h^2))``.
    n_features : int
        Features; the estimate's standard deviation is about ``1 / sqrt(n_features)``.
    rng : numpy.random.Generator
        Draws the frequencies and phases.

    Returns
    -------
    features : ndarray of float32, shape (n_contigs, n_features)
        Rows of norm about 1.
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    frequencies = rng.normal(0.0, 1.0 / bandwidth, size=(profiles.shape[1], n_features))
    phases = rng.uniform(0.0, 2 * np.pi, size=n_features)
    return (np.sqrt(2.0 / n_features) * np.cos(profiles @ frequencies + phases)).astype(np.float32)


def fuse_views(composition: np.ndarray, coverage: np.ndarray, *, weight: float = 0.5) -> np.ndarray:
    """One vector per contig whose cosine is the weighted mean of the views' similarities.

    Parameters
    ----------
    composition : ndarray of shape (n_contigs, d)
        Composition embedding (normalised here).
    coverage : ndarray of shape (n_contigs, m)
        :func:`coverage_kernel_features` (rows of norm about 1, used as they are).
    weight : float
        Weight ``w`` of composition, in [0, 1].

    Returns
    -------
    fused : ndarray of float32, shape (n_contigs, d + m)
    """
    composition = np.asarray(composition, dtype=np.float32)
    norms = np.linalg.norm(composition, axis=1, keepdims=True)
    unit = composition / np.where(norms > 0, norms, 1.0)
    return np.hstack([np.sqrt(weight) * unit, np.sqrt(1.0 - weight) * np.asarray(coverage, dtype=np.float32)])
