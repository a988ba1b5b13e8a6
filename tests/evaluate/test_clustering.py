"""K-means ARI and few-shot macro-F1 against direct scikit-learn calls."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, f1_score
from sklearn.preprocessing import StandardScaler, normalize
from threadpoolctl import threadpool_limits

from biocl.evaluate.clustering import few_shot_f1, few_shot_split, kmeans_ari


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


def _clustered(n_classes: int, per_class: int, dim: int = 8, spread: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)) * 2
    labels = np.repeat([f"species{i}" for i in range(n_classes)], per_class)
    embeddings = np.repeat(centres, per_class, axis=0) + spread * rng.normal(size=(len(labels), dim))
    return embeddings, labels


def test_kmeans_ari_matches_scikit_learn():
    embeddings, labels = _clustered(4, 30, spread=1.5)
    mean, per_seed = kmeans_ari(embeddings, labels, n_seeds=3)
    expected = [adjusted_rand_score(labels, KMeans(4, init="random", n_init=3, max_iter=1000, random_state=s)
                                    .fit_predict(normalize(embeddings))) for s in range(3)]
    assert per_seed == pytest.approx(expected)
    assert mean == pytest.approx(np.mean(expected))
    assert 0.2 < mean < 1.0


def test_kmeans_ari_is_perfect_on_separated_clusters_and_checks_input():
    embeddings, labels = _clustered(3, 10, spread=0.01)
    assert kmeans_ari(embeddings, labels, n_seeds=2)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="n labels"):
        kmeans_ari(embeddings, labels[:-1])
    embeddings[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kmeans_ari(embeddings, labels)


def test_few_shot_split_is_disjoint_and_per_class():
    labels = np.repeat(["a", "b", "c"], [30, 25, 5])
    train, test, excluded = few_shot_split(labels, 0, shots=(1, 5, 10), n_test=12)
    assert excluded == ["c"]
    assert sorted(np.unique(labels[test], return_counts=True)[1]) == [12, 12]
    for k, indices in train.items():
        assert np.unique(labels[indices], return_counts=True)[1].tolist() == [k, k]
        assert not set(indices) & set(test)
    # Too few for a full test set: the test set shrinks rather than overlapping training.
    _, small_test, _ = few_shot_split(np.repeat(["a", "b"], 15), 1, shots=(1, 10), n_test=80)
    assert len(small_test) == 10


def test_few_shot_f1_matches_scikit_learn():
    embeddings, labels = _clustered(3, 40, spread=2.0, seed=1)
    shots = (1, 5)
    result = few_shot_f1(embeddings, labels, shots=shots, n_test=20, n_seeds=2)
    standardised = StandardScaler().fit_transform(embeddings)
    for k in shots:
        expected = []
        for seed in range(2):
            train, test, _ = few_shot_split(labels, seed, shots=shots, n_test=20)
            model = LogisticRegression(C=0.5, max_iter=3000, random_state=seed)
            model.fit(standardised[train[k]], labels[train[k]])
            expected.append(f1_score(labels[test], model.predict(standardised[test]), average="macro"))
        assert result[k] == pytest.approx(np.mean(expected))
    assert result[5] > 0.5


def test_few_shot_f1_warns_about_small_classes_and_needs_two():
    embeddings, labels = _clustered(3, 12, seed=2)
    labels[:9] = "tiny"
    labels[9:12] = "tiny"
    with pytest.warns(UserWarning, match="left out"):
        few_shot_f1(embeddings[9:], labels[9:], shots=(1, 5), n_test=4, n_seeds=1)
    with pytest.warns(UserWarning, match="left out"), pytest.raises(ValueError, match="two classes"):
        few_shot_f1(embeddings[:24], labels[:24], shots=(1, 5, 20), n_test=4, n_seeds=1)
