"""Scoring of the ``dna_species`` pipeline: every metric for the trained encoder and the TNF baselines.

The same held-out contigs and the same calibration contigs are scored for every feature
set (trained encoder, TNF, canonical TNF, TNF-K): K-means ARI, few-shot macro-F1, binning
with the paper's K-medoid and the kNN-graph binner at the calibrated threshold, matched
per-species F1 and AMBER metrics.

The primary endpoint is the K-means ARI. Contigs of one species share its genome, so the
independent unit of this design is the species, and the ARI's CI resamples species
(:func:`species_bootstrap_ari`): a cluster bootstrap that draws the test species with
replacement and recomputes the ARI on the contigs of the drawn species (a species drawn
twice counts twice), K-means clusters held fixed, averaged over the K-means seeds; at the
ceiling (ARI 1) it is widened to the Wilson interval over the species. Two companions are
reported beside it (``details.ari_intervals``): the leave-one-species-out jackknife, and the
per-sequence bootstrap of :func:`ari_contributions` (with ``n_ij`` the contingency of
species and clusters, ``E`` and ``M`` the expected and maximum index of the ARI formula,
sequence ``s`` in species ``i`` and cluster ``j`` contributes
``v_s = n ((n_ij - 1) / 2 - E / n) / (M - E)`` and ``mean(v) == ARI`` exactly), which holds
species and cluster sizes fixed and treats contigs as independent: too narrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from biocl.protocols.base import Protocol
from biocl.pipelines.runs import PipelineResult

__all__ = ["ari_contributions", "species_bootstrap_ari", "kmeans_assignments", "score_features", "score_all",
           "assemble_result", "FEATURE_NAMES"]

FEATURE_NAMES = {"trained": "trained encoder", "tnf": "TNF (256)", "canonical_tnf": "canonical TNF (136)",
                 "tnf_kernel": "TNF-K (103)", "before_training": "encoder before training"}
_BOOTSTRAP = 500


def ari_contributions(true_labels: Sequence, clusters: Sequence) -> np.ndarray:
    """Per-sequence contributions whose mean is the adjusted Rand index (see the module docstring).

    Returns
    -------
    ndarray of float, shape (n,)
        ``mean(values) == adjusted_rand_score(true_labels, clusters)``. With one class and
        one cluster (ARI undefined, 1 by convention) every value is 1.
    """
    _, truth = np.unique(np.asarray(true_labels), return_inverse=True)
    _, pred = np.unique(np.asarray(clusters), return_inverse=True)
    n = len(truth)
    table = np.zeros((truth.max() + 1, pred.max() + 1))
    np.add.at(table, (truth, pred), 1.0)
    pairs = lambda x: x * (x - 1) / 2.0  # noqa: E731 - the binomial C(x, 2) of the ARI formula
    a, b = pairs(table.sum(1)).sum(), pairs(table.sum(0)).sum()
    expected = a * b / pairs(n) if n > 1 else 0.0
    maximum = (a + b) / 2.0
    if maximum == expected:
        return np.ones(n)
    return n * ((table[truth, pred] - 1.0) / 2.0 - expected / n) / (maximum - expected)


def _pairs(x: np.ndarray) -> np.ndarray:
    """The binomial ``C(x, 2)`` of the ARI formula, elementwise."""
    return x * (x - 1) / 2.0


def species_bootstrap_ari(clusters: Sequence[np.ndarray], species: Sequence, *, n_resamples: int = 2000,
                          seed: int = 0) -> dict[str, Any]:
    """95 % cluster-bootstrap CI of the ARI over species, clusters held fixed.

    Each resample draws as many species as there are, with replacement, and computes the
    ARI of the contigs of the drawn species against their K-means clusters, averaged over
    the K-means seeds as the metric is. A species drawn ``w`` times contributes ``w`` copies
    of its contigs; the ARI counts pairs of contigs within one copy and between different
    species, not pairs across two copies of one species (those would all agree and push the
    resampled ARI above the observed one).
    Where the ARI is 1 (every resample is 1 too), the interval is widened to the Wilson
    score interval over the species, so it never collapses to a point at the ceiling.

    Parameters
    ----------
    clusters : sequence of ndarray of int, each shape (n,)
        K-means labels per seed.
    species : sequence, shape (n,)
        Species of each contig.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``ari`` (the full data's), ``ci95``, ``method``, ``n_units`` (species), ``values``
        (the resampled ARIs, for the report's histogram) and ``n_undefined`` (resamples with a
        single species or cluster, left out).
    """
    from biocl.evaluate.stats import wilson_interval

    names, truth = np.unique(np.asarray(species), return_inverse=True)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(names), np.full(len(names), 1.0 / len(names)), size=n_resamples).astype(float)
    weights = np.vstack([np.ones(len(names)), weights])  # row 0: the full data
    per_seed = []
    for labels in clusters:
        _, pred = np.unique(np.asarray(labels), return_inverse=True)
        table = np.zeros((len(names), pred.max() + 1))
        np.add.at(table, (truth, pred), 1.0)
        rows, squares = table.sum(1), (table ** 2).sum(1)
        # Pairs of contigs from two copies of one drawn species are left out: they are neither
        # "same species" pairs of one unit nor pairs of two units, and counting them inflates the ARI.
        copies = _pairs(weights)
        index = weights @ _pairs(table).sum(1)
        a = weights @ _pairs(rows)
        b = _pairs(weights @ table).sum(1) - copies @ squares
        total = _pairs(weights @ rows) - copies @ rows ** 2
        expected = a * b / np.maximum(total, 1e-12)
        maximum = (a + b) / 2.0
        with np.errstate(invalid="ignore", divide="ignore"):
            per_seed.append(np.where(maximum > expected, (index - expected) / (maximum - expected), np.nan))
    values = np.mean(per_seed, axis=0)
    full, resampled = float(values[0]), values[1:]
    defined = resampled[np.isfinite(resampled)]
    low, high = (float(np.percentile(defined, q)) for q in (2.5, 97.5))
    method = (f"cluster bootstrap over {len(names)} species ({n_resamples} resamples, seed {seed}; the ARI of the "
              "drawn species' contigs, K-means clusters fixed)")
    if np.isclose(full, 1.0):
        w_low, w_high = wilson_interval(1.0, len(names))
        low, high = min(low, w_low), max(high, w_high)
        method += f", widened to the Wilson score interval at n = {len(names)} species"
    return {"ari": full, "ci95": [low, high], "method": method, "n_units": len(names), "unit": "species",
            "values": defined.tolist(), "n_undefined": int(resampled.size - defined.size)}


def kmeans_assignments(embeddings: np.ndarray, n_clusters: int, n_seeds: int) -> list[np.ndarray]:
    """K-means labels per seed, with the paper's settings (as :func:`biocl.evaluate.clustering.kmeans_ari`)."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import normalize

    matrix = normalize(np.asarray(embeddings, dtype=np.float64))
    return [KMeans(n_clusters=n_clusters, init="random", n_init=3, max_iter=1000, random_state=seed).fit_predict(matrix)
            for seed in range(n_seeds)]


def score_features(protocol: Protocol, embeddings: np.ndarray, calibration: np.ndarray, eval_set: dict,
                   cal_set: dict) -> dict[str, Any]:
    """Every metric of one feature set on the evaluation contigs.

    Returns
    -------
    dict
        ``metrics`` (flat name -> number), ``contributions`` (per-sequence ARI values),
        ``clusters`` (K-means labels per seed), ``bins`` and ``match`` per binner, ``amber``,
        ``few_shot`` and ``threshold``.
    """
    from biocl.evaluate.amber import amber_metrics, binning_ari, match_bins
    from biocl.evaluate.binning import calibrate_threshold, graph_bins, kmedoid_bins
    from biocl.evaluate.clustering import few_shot_f1, kmeans_ari
    from sklearn.metrics import adjusted_rand_score

    ev = protocol.evaluate
    species = np.asarray(eval_set["species"])
    clusters = kmeans_assignments(embeddings, len(np.unique(species)), ev.kmeans_seeds)
    contributions = np.mean([ari_contributions(species, c) for c in clusters], axis=0)
    reference, _ = kmeans_ari(embeddings, species, n_seeds=ev.kmeans_seeds)
    if not np.isclose(reference, contributions.mean(), atol=1e-9):
        raise AssertionError(f"K-means ARI {reference} differs from its per-sequence decomposition "
                             f"{contributions.mean()}")
    metrics: dict[str, float] = {"ari": float(contributions.mean())}
    few = few_shot_f1(embeddings, species, shots=ev.shots, n_test=ev.n_test, n_seeds=ev.few_shot_seeds,
                      C=ev.few_shot_c)
    metrics.update({f"few_shot_f1_k{k}": v for k, v in few.items()})
    threshold = calibrate_threshold(calibration, cal_set["species"], percentile=ev.threshold_percentile)
    metrics["binning_threshold"] = threshold
    lengths = [r.length_bp for r in eval_set["records"]]
    out: dict[str, Any] = {"metrics": metrics, "contributions": contributions, "clusters": clusters,
                           "few_shot": few, "threshold": threshold, "bins": {}, "match": {}, "amber": {}}
    k = min(ev.graph_k, len(embeddings) - 1)
    for binner, bins in (("kmedoid", kmedoid_bins(embeddings, threshold, min_bin_size=ev.min_bin_size)),
                         ("graph", graph_bins(embeddings, threshold, k=k, min_bin_size=ev.min_bin_size))):
        match = match_bins(bins, species)
        amber = amber_metrics(bins, species, lengths)
        out["bins"][binner], out["match"][binner], out["amber"][binner] = bins, match, amber
        names = [f"bin{b}" if b >= 0 else "unbinned" for b in bins]
        metrics.update({f"{binner}_n_f1_above_0_5": match.n_f1_above_0_5,
                        f"{binner}_n_f1_above_0_9": match.n_f1_above_0_9,
                        f"{binner}_mean_f1": float(match.f1.mean()), f"{binner}_n_bins": match.n_bins,
                        f"{binner}_n_unbinned": match.n_unbinned, f"{binner}_ari": binning_ari(names, species),
                        f"{binner}_mean_purity_bp": amber["mean_purity"],
                        f"{binner}_mean_completeness_bp": amber["mean_completeness"]})
        for row in amber["recovered"]:
            key = f"{binner}_recovered_c{round(row['completeness_gt'] * 100)}_x{round(row['contamination_lt'] * 100)}"
            metrics[key] = row["n_genomes"]
    metrics["kmedoid_graph_agreement_ari"] = float(adjusted_rand_score(out["bins"]["kmedoid"], out["bins"]["graph"]))
    return out


def score_all(protocol: Protocol, encoder: Any, eval_set: dict, cal_set: dict, *, device: Any,
              before: Any | None = None) -> dict[str, Any]:
    """Embed the evaluation and calibration contigs with every feature set and score each.

    ``before`` is the encoder with its weights before training (the ``before_training`` baseline).
    """
    from biocl.utils.console import info
    from biocl.data.dna.windows import split_windows
    from biocl.data.dna.tnf import TNF, CanonicalTNF, TNFKernel
    from biocl.encoders.dna import embed_sequences

    data = protocol.data
    eval_seqs = [r.seq for r in eval_set["records"]]
    cal_seqs = [r.seq for r in cal_set["records"]]

    def embedder(model: Any) -> Any:
        def embed(seqs: list[str]) -> np.ndarray:
            return embed_sequences(model.to(device), seqs, window_bp=data.window_bp,
                                   batch_size=protocol.model.embed_batch_size, device=device)
        return embed

    featurizers = {"trained": embedder(encoder), "before_training": embedder(before),
                   "tnf": lambda s: TNF().fit_transform(s),
                   "canonical_tnf": lambda s: CanonicalTNF().fit_transform(s),
                   "tnf_kernel": lambda s: TNFKernel().fit_transform(s)}
    results = {}
    for name in ["trained", *protocol.evaluate.baselines]:
        if name == "before_training" and before is None:
            continue
        info(f"[dna_species] scoring {FEATURE_NAMES[name]}")
        embeddings = featurizers[name](eval_seqs)
        results[name] = score_features(protocol, embeddings, featurizers[name](cal_seqs), eval_set, cal_set)
        results[name]["embeddings"] = embeddings
    n_windows = sum(len(split_windows(s, data.window_bp) or [s]) for s in eval_seqs)
    return {"features": results, "eval_set": eval_set, "n_windows": n_windows}


def assemble_result(protocol: Protocol, scores: dict[str, Any], *, data: dict, flow: list, exclusions: list,
                    disjointness: dict, model: dict, checkpoint: dict, device: str,
                    validation: dict | None = None, data_quality: dict | None = None) -> PipelineResult:
    """The :class:`PipelineResult`: metrics, baselines, the ARI's CI over species and the report's details.

    The unit values are each species' mean per-sequence ARI contribution weighted by its
    contig count (their weighted mean is the ARI); the interval itself is the cluster
    bootstrap over species (:func:`species_bootstrap_ari`), supplied as ``primary_ci``.
    """
    from biocl.evaluate.stats import permutation_pvalue
    from biocl.pipelines.dna_species.quality import CALIBRATION_NOT_APPLICABLE, worst_species
    from sklearn.metrics import adjusted_rand_score

    features, eval_set = scores["features"], scores["eval_set"]
    trained = features["trained"]
    species = np.asarray(eval_set["species"])
    ev = protocol.evaluate

    def null_ari(rng: np.random.Generator) -> float:
        shuffled = rng.permutation(species)
        return float(np.mean([adjusted_rand_score(shuffled, c) for c in trained["clusters"]]))

    observed = trained["metrics"]["ari"]
    p_value = permutation_pvalue(observed, null_ari, n_permutations=ev.n_permutations, seed=protocol.seed)
    species_names = sorted(np.unique(species))
    intervals = _ari_intervals(protocol, trained, species)
    per_species = {name: trained["contributions"][species == name] for name in species_names}
    match = trained["match"]["kmedoid"]
    f1_ci = _species_f1_bootstrap(trained["bins"]["kmedoid"], species, match, seed=protocol.seed)
    rows = [{"group": s, "value": float(f), "ci95": list(f1_ci[s]), "n": int((species == s).sum())}
            for s, f in zip(match.species, match.f1)]
    details = {
        "flow": flow, "exclusions": exclusions, "disjointness": disjointness,
        "subgroups": [{"name": "species", "prespecified": "species" in protocol.acceptance.prespecified_subgroups,
                       "metric": "binning F1 (K-medoid, trained encoder; CI: bootstrap over sequences)",
                       "rows": rows}],
        "worst_cases": worst_species(match, trained["bins"]["kmedoid"], eval_set),
        "data_quality": data_quality,
        "calibration": CALIBRATION_NOT_APPLICABLE,
        "model": model, "checkpoint": checkpoint,
        "permutation_test": {"metric": "ari (species labels shuffled, K-means clusters fixed)",
                             "observed": float(observed), "p_value": p_value, "n_permutations": ev.n_permutations},
        "ari_species_jackknife": intervals["species_jackknife"],
        "ari_intervals": {k: {key: v for key, v in row.items() if key != "values"} for k, row in intervals.items()},
        "validation": validation or {"monitor": None, "epochs": []},
        "binning": {name: {"threshold": f["threshold"],
                           **{b: f["match"][b].as_dict() for b in f["match"]},
                           **{f"amber_{b}": f["amber"][b] for b in f["amber"]}} for name, f in features.items()},
        "figures": _figures(features, species, species_names, f1_ci, match) + _interval_figures(intervals),
        "device": device,
    }
    baselines = {name: f["metrics"] for name, f in features.items() if name != "trained"}
    # Each baseline's ARI over the same species, resampled as the primary endpoint is.
    details["metric_intervals"] = {
        name: {"ari": species_bootstrap_ari(features[name]["clusters"], species,
                                            n_resamples=protocol.acceptance.ci_resamples,
                                            seed=protocol.acceptance.ci_seed)["ci95"]} for name in baselines}
    # The ARI is adjusted for chance: its expected value under random labels is 0 for any data.
    baselines["chance"] = {"ari": 0.0}
    bootstrap, jackknife = intervals["species_bootstrap"], intervals["species_jackknife"]
    sequences = intervals["sequence_bootstrap"]
    method = (f"{bootstrap['method']}; beside it, leave-one-species-out jackknife "
              f"{_span(jackknife['ci95'])} and per-contig bootstrap with species and cluster sizes fixed "
              f"{_span(sequences['ci95'])} (too narrow: contigs of one genome are not independent)")
    return PipelineResult(metrics=trained["metrics"], baselines=baselines, data=data,
                          primary_unit_values=[float(v.mean()) for v in per_species.values()],
                          primary_unit_weights=[float(v.size) for v in per_species.values()],
                          primary_unit_ids=list(per_species), primary_ci=tuple(bootstrap["ci95"]),
                          primary_ci_method=method, details=details)


def _span(ci: Sequence[float] | None) -> str:
    return "not computed (fewer than 3 species)" if ci is None else f"{ci[0]:.3f}-{ci[1]:.3f}"


def _ari_intervals(protocol: Protocol, trained: dict[str, Any], species: np.ndarray) -> dict[str, dict]:
    """The ARI's CI over species (primary), its species jackknife and per-contig bootstrap (companions)."""
    from biocl.evaluate.stats import bootstrap_ci

    acceptance = protocol.acceptance
    bootstrap = species_bootstrap_ari(trained["clusters"], species, n_resamples=acceptance.ci_resamples,
                                      seed=acceptance.ci_seed)
    contributions = trained["contributions"]
    sequence_ci = bootstrap_ci(contributions, n_resamples=acceptance.ci_resamples, seed=acceptance.ci_seed)
    return {"species_bootstrap": bootstrap,
            "species_jackknife": _species_jackknife_ari(trained["clusters"], species),
            "sequence_bootstrap": {"ari": float(contributions.mean()), "ci95": [float(v) for v in sequence_ci],
                                   "unit": "sequence", "n_units": int(contributions.size),
                                   "method": "percentile bootstrap of per-contig ARI contributions, species and "
                                             "cluster sizes fixed"}}


def _interval_figures(intervals: dict[str, dict]) -> list[dict]:
    rows = [("species bootstrap (primary)", "species_bootstrap"), ("species jackknife", "species_jackknife"),
            ("contig bootstrap, sizes fixed", "sequence_bootstrap")]
    shown = [(label, intervals[key]) for label, key in rows if intervals[key].get("ci95") is not None]
    return [{"kind": "bar", "title": "K-means ARI of the trained encoder: 95 % intervals by resampling unit",
             "labels": [label for label, _ in shown], "values": [row["ari"] for _, row in shown],
             "ci": [list(row["ci95"]) for _, row in shown], "ylabel": "ARI"},
            {"kind": "histogram", "title": "ARI over species resamples (cluster bootstrap)",
             "values": intervals["species_bootstrap"]["values"], "bins": 30, "xlabel": "ARI"}]


def _species_f1_bootstrap(bins: np.ndarray, species: np.ndarray, match: Any, *, seed: int) -> dict[str, tuple]:
    """95 % bootstrap CI of each species' matched F1, resampling sequences with bins and matching fixed."""
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(bins), np.full(len(bins), 1.0 / len(bins)), size=_BOOTSTRAP).astype(float)
    out = {}
    for name, matched in zip(match.species, match.matched_bin):
        in_species = species == name
        if matched is None:
            out[name] = (0.0, 0.0)
            continue
        in_bin = bins == matched
        tp = weights[:, in_species & in_bin].sum(1)
        denominator = weights[:, in_bin].sum(1) + weights[:, in_species].sum(1)
        f1 = np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1e-12), 0.0)
        out[name] = (float(np.percentile(f1, 2.5)), float(np.percentile(f1, 97.5)))
    return out


def _species_jackknife_ari(clusters: list[np.ndarray], species: np.ndarray) -> dict[str, Any]:
    """Leave-one-species-out jackknife of the ARI (clusters fixed): standard error and a normal 95 % CI.

    Species are the independent units of this design (contigs of one species share its
    genome), so this interval is the conservative companion of the per-sequence bootstrap.
    """
    from sklearn.metrics import adjusted_rand_score

    names = np.unique(species)
    full = float(np.mean([adjusted_rand_score(species, c) for c in clusters]))
    if len(names) < 3:
        return {"ari": full, "se": None, "ci95": None, "unit": "species", "n_units": len(names)}
    values = np.array([np.mean([adjusted_rand_score(species[species != s], c[species != s]) for c in clusters])
                       for s in names])
    se = float(np.sqrt((len(names) - 1) / len(names) * ((values - values.mean()) ** 2).sum()))
    # A normal interval can pass the ARI's maximum of 1; it is cut there.
    return {"ari": full, "se": se, "ci95": [full - 1.96 * se, min(full + 1.96 * se, 1.0)], "unit": "species",
            "n_units": len(names), "method": "leave-one-species-out jackknife, clusters fixed"}


def _figures(features: dict, species: np.ndarray, species_names: list[str], f1_ci: dict, match: Any) -> list[dict]:
    names = list(features)
    summary_keys = [("ari", "K-means ARI"), ("few_shot_f1_k5", "few-shot F1 (5 shots)"),
                    ("kmedoid_mean_f1", "binning mean F1 (K-medoid)"), ("graph_mean_f1", "binning mean F1 (graph)")]
    figures: list[dict] = [{
        "kind": "grouped_bar", "title": "Trained encoder and composition baselines on held-out species",
        "labels": [label for key, label in summary_keys if key in features["trained"]["metrics"]],
        "series": {FEATURE_NAMES[n]: [features[n]["metrics"][k] for k, _ in summary_keys
                                      if k in features[n]["metrics"]] for n in names},
        "ylabel": "score"}]
    shots = sorted(features["trained"]["few_shot"])
    figures.append({"kind": "curve", "title": "Few-shot classification of held-out species", "x": shots,
                    "series": {FEATURE_NAMES[n]: [features[n]["few_shot"][k] for k in shots] for n in names},
                    "xlabel": "training sequences per species", "ylabel": "macro-F1"})
    bins = features["trained"]["bins"]["kmedoid"]
    bin_ids = sorted({int(b) for b in bins if b >= 0})
    columns = [*bin_ids, -1]
    matrix = [[int(((species == s) & (bins == b)).sum()) for b in columns] for s in species_names]
    figures.append({"kind": "heatmap", "title": "Species x K-medoid bins (trained encoder, contig counts)",
                    "matrix": matrix, "row_labels": species_names,
                    "col_labels": [f"bin {b}" for b in bin_ids] + ["unbinned"]})
    for name in ("trained", "canonical_tnf"):
        if name in features:
            x, y = _pca_2d(features[name]["embeddings"])
            figures.append({"kind": "scatter", "title": f"PCA of {FEATURE_NAMES[name]} embeddings, by species",
                            "x": x, "y": y, "labels": species.tolist()})
    figures.append({"kind": "bar", "title": "Binning F1 per held-out species (trained encoder, K-medoid)",
                    "labels": list(match.species), "values": [float(f) for f in match.f1],
                    "ci": [list(f1_ci[s]) for s in match.species], "ylabel": "F1"})
    return figures


def _pca_2d(embeddings: np.ndarray) -> tuple[list[float], list[float]]:
    matrix = np.asarray(embeddings, dtype=np.float64)
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    matrix = matrix - matrix.mean(0)
    _, _, vt = np.linalg.svd(matrix, full_matrices=False)
    # Fix each component's sign so the map does not flip between identical runs on other BLAS builds.
    components = vt[:2] * np.sign(vt[:2, [0]] + (vt[:2, [0]] == 0))
    coords = matrix @ components.T
    return coords[:, 0].round(5).tolist(), coords[:, 1].round(5).tolist()
