"""Metrics and statistics, as pure functions on arrays.

| module | what |
|---|---|
| ``retrieval`` | segment identification: top-k accuracy, ranks, word-level top-k |
| ``clustering`` | KMeans ARI and few-shot macro-F1 (DNABERT-S protocol) |
| ``binning`` | threshold calibration, the paper's K-medoid and the scalable kNN-graph binner, matched F1 |
| ``amber`` | AMBER-style base-pair purity and completeness, genomes recovered |
| ``zste`` | zero-shot temporal evaluation tasks 1-5, CompA-style scores, zero-shot accuracy, retrieval |
| ``stats`` | bootstrap confidence intervals, paired differences, permutation tests |
"""
