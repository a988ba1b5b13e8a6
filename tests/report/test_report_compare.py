"""compare_runs: two hand-made runs paired by unit id, the difference bootstrapped over units."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from biocl.utils.errors import BioclError
from biocl.evaluate.stats import bootstrap_ci
from biocl.report import compare_runs, write_comparison


def _with_units(results: dict[str, Any], ids: list[str], values: list[float], weights: list[float] | None) -> dict:
    endpoint = results["primary_endpoint"]
    v = np.asarray(values)
    w = np.ones_like(v) if weights is None else np.asarray(weights)
    endpoint.update(unit_ids=ids, unit_values=values, unit_weights=weights, n_units=len(ids),
                    value=float((v * w).sum() / w.sum()))
    endpoint["ci95"] = [endpoint["value"] - 0.05, endpoint["value"] + 0.05]
    return {k: v for k, v in results.items() if k != "figures"}


@pytest.fixture
def pair(make_run, results_of) -> tuple[Path, Path, dict[str, Any]]:
    """Run A on sub-01..08; run B on sub-02..09 in another order, with known per-unit differences."""
    ids_a = [f"sub-{i:02d}" for i in range(1, 9)]
    values_a = [0.40, 0.50, 0.45, 0.30, 0.55, 0.42, 0.38, 0.47]
    weights = {unit: 10.0 + k for k, unit in enumerate([f"sub-{i:02d}" for i in range(1, 10)])}
    shift = {unit: 0.02 * (k % 4) for k, unit in enumerate(ids_a)}
    ids_b = [f"sub-{i:02d}" for i in (9, 5, 3, 7, 2, 8, 4, 6)]
    values_b = [0.33 if unit == "sub-09" else values_a[ids_a.index(unit)] - shift[unit] for unit in ids_b]
    run_a = make_run(_with_units(results_of("brain_speech"), ids_a, values_a, [weights[u] for u in ids_a]),
                     name="run-a", records=[])
    run_b = make_run(_with_units(results_of("brain_speech"), ids_b, values_b, [weights[u] for u in ids_b]),
                     name="run-b", records=[])
    paired = [u for u in ids_a if u in ids_b]
    expected = {"paired": paired, "diff": np.array([shift[u] for u in paired]),
                "weights": np.array([weights[u] for u in paired])}
    return run_a, run_b, expected


def test_difference_pairs_units_by_id(pair) -> None:
    run_a, run_b, expected = pair
    comparison = compare_runs(run_a, run_b, n_resamples=1000, seed=3)
    diff = comparison["difference"]
    w = expected["weights"]
    assert diff["n_paired"] == 7 and diff["only_in_a"] == ["sub-01"] and diff["only_in_b"] == ["sub-09"]
    assert diff["estimate"] == pytest.approx((expected["diff"] * w).sum() / w.sum(), abs=1e-12)
    assert diff["unit_differences"] == pytest.approx(dict(zip(expected["paired"], expected["diff"])), abs=1e-12)
    assert diff["estimate"] == pytest.approx(diff["a_on_paired_units"] - diff["b_on_paired_units"], abs=1e-12)
    # The same interval as bootstrapping the paired differences directly, resampling subjects.
    assert diff["ci95"] == pytest.approx(bootstrap_ci(expected["diff"], weights=w, n_resamples=1000, seed=3), abs=1e-12)
    low, high = diff["ci95"]
    assert 0.0 <= low < diff["estimate"] < high <= 0.06
    assert diff["method"] == "paired percentile bootstrap over the 7 subjects in both runs, 1000 resamples, seed 3"


def test_same_seed_same_interval_and_protocol_defaults(pair) -> None:
    run_a, run_b, _ = pair
    first = compare_runs(run_a, run_b)
    again = compare_runs(run_a, run_b)
    assert first["difference"]["ci95"] == again["difference"]["ci95"]
    # Without arguments the resampling of run A's protocol is used (1000 resamples, seed 0).
    assert first["difference"]["method"].endswith("1000 resamples, seed 0")
    other = compare_runs(run_a, run_b, seed=1)
    assert other["difference"]["ci95"] != first["difference"]["ci95"]


def test_a_run_compared_with_itself_differs_by_zero(pair) -> None:
    run_a, _, _ = pair
    diff = compare_runs(run_a, run_a)["difference"]
    assert diff["estimate"] == 0.0 and diff["ci95"] == [0.0, 0.0] and diff["n_paired"] == 8


def test_comparison_files_are_self_contained(pair, tmp_path: Path) -> None:
    run_a, run_b, _ = pair
    written = write_comparison(compare_runs(run_a, run_b), tmp_path / "cmp")
    html = written["html"].read_text()
    assert json.loads(written["json"].read_text())["difference"]["n_paired"] == 7
    assert not re.search(r"(?i)https?://", html) and html.count('<svg role="img"') == 2
    assert "A - B = " in html and "only in A: sub-01" in html


def test_incomparable_runs_are_user_errors(make_run, results_of) -> None:
    dna = make_run(results_of("dna_species"), records=[])
    brain_results = results_of("brain_speech")
    brain = make_run(brain_results, name="brain", records=[])
    with pytest.raises(BioclError, match="different primary metrics"):
        compare_runs(brain, dna)
    old = results_of("brain_speech")
    del old["primary_endpoint"]["unit_ids"]
    with pytest.raises(BioclError, match="no per-unit values"):
        compare_runs(brain, make_run(old, name="old", records=[]))
    strangers = results_of("brain_speech")
    strangers["primary_endpoint"]["unit_ids"] = [f"x{i}" for i in range(12)]
    with pytest.raises(BioclError, match="share no evaluation unit"):
        compare_runs(brain, make_run(strangers, name="strangers", records=[]))
    reweighted = results_of("brain_speech")
    reweighted["primary_endpoint"]["unit_weights"] = [1.0] * 12
    with pytest.raises(BioclError, match="weigh the shared units differently"):
        compare_runs(brain, make_run(reweighted, name="reweighted", records=[]))
