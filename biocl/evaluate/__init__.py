"""Metrics, baselines and statistics, as pure functions on arrays.

| module | what |
|---|---|
| ``retrieval`` | segment identification: top-k accuracy, ranks, word-level top-k |
| ``baselines`` | the lagged ridge decoder (``GroupedRidgeCV``, lag design) and chance levels of segment identification |
| ``clustering`` | KMeans ARI and few-shot macro-F1 (DNABERT-S protocol) |
| ``binning`` | threshold calibration, the paper's K-medoid and the scalable kNN-graph binner |
| ``binning_threshold`` | label-free binning thresholds: best mean silhouette, half-to-half similarity |
| ``amber`` | binning ARI, matched F1, AMBER-style base-pair purity and completeness, genomes recovered |
| ``zste`` | zero-shot temporal evaluation tasks 1-5, CompA-style scores, zero-shot accuracy, retrieval |
| ``stats`` | weighted means, bootstrap confidence intervals, permutation tests |

Nothing here imports a pipeline: functions take arrays and plain values.
"""
