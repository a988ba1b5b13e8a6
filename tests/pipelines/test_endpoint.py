"""The primary endpoint is resolved against the data: chance, threshold rule, interval, warnings."""

from __future__ import annotations

import pytest

from biocl.pipelines import primary_endpoint
from biocl.pipelines.runs import PipelineResult
from biocl.protocols.base import Acceptance
from biocl.utils.errors import BioclError


class _Protocol:
    source_path = None

    def __init__(self, **acceptance) -> None:
        self.acceptance = Acceptance(metric="top10", unit="subject", **acceptance)


def _result(chance: float, ridge: float = 0.3) -> PipelineResult:
    values = [0.5, 0.6, 0.4, 0.5]
    return PipelineResult(metrics={"top10": 0.5}, data={}, baselines={"chance": {"top10": chance}, "ridge": {"top10": ridge}},
                          primary_unit_values=values, primary_unit_ids=["s1", "s2", "s3", "s4"])


def test_chance_and_threshold_come_from_the_run() -> None:
    endpoint = primary_endpoint(_Protocol(threshold="5 x chance"), _result(chance=0.05))
    assert endpoint["chance"] == 0.05 and endpoint["threshold"] == pytest.approx(0.25)
    assert endpoint["threshold_rule"] == "5 x chance" and endpoint["passed"]
    # The same protocol on a layout with more chance fails: the threshold moved with the data.
    endpoint = primary_endpoint(_Protocol(threshold="5 x chance"), _result(chance=0.2))
    assert endpoint["threshold"] == pytest.approx(1.0) and not endpoint["passed"]
    assert endpoint["warnings"] == []


def test_threshold_relative_to_a_baseline() -> None:
    assert primary_endpoint(_Protocol(threshold="ridge + 0.05"), _result(0.05, ridge=0.3))["passed"]
    assert not primary_endpoint(_Protocol(threshold="ridge + 0.05"), _result(0.05, ridge=0.48))["passed"]
    with pytest.raises(BioclError, match="baseline 'oracle'"):
        primary_endpoint(_Protocol(threshold="oracle"), _result(0.05))


def test_an_expected_chance_the_data_contradict_is_a_visible_warning() -> None:
    endpoint = primary_endpoint(_Protocol(threshold=0.3, expected_chance=0.0746), _result(chance=0.1))
    assert endpoint["chance"] == 0.1
    assert endpoint["warnings"] == ["the protocol expects chance 0.0746; the data give 0.1, which is used"]
    assert primary_endpoint(_Protocol(threshold=0.3, expected_chance=0.1), _result(chance=0.1))["warnings"] == []


def test_interval_over_few_units_at_the_ceiling_is_not_a_point() -> None:
    result = PipelineResult(metrics={"top10": 1.0}, data={}, baselines={"chance": {"top10": 0.1}},
                            primary_unit_values=[1.0] * 8)
    endpoint = primary_endpoint(_Protocol(threshold=0.5), result)
    low, high = endpoint["ci95"]
    assert low < 0.7 and high == 1.0 and "Wilson" in endpoint["ci_method"]
    assert "subjects" in endpoint["ci_method"]
