"""report.json and report.html of hand-made runs of the three pipelines."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from biocl.utils.errors import BioclError
from biocl.report import build_report
from biocl.report.builder import print_pdf
from biocl.report.schema import SECTION_IDS, resolve_pointer, split_source, validate_report

SCRIPT_ID = "<script>alert(1)</script>"


def _numbers(node: Any, path: str = "") -> list[tuple[str, float]]:
    """Every number of a JSON document with its location (booleans are not numbers)."""
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return []
    if isinstance(node, (int, float)):
        return [(path, node)]
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in _numbers(value, f"{path}/{key}")]
    return [found for index, value in enumerate(node) for found in _numbers(value, f"{path}/{index}")]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _build(run_dir: Path) -> tuple[dict[str, Any], str]:
    written = build_report(run_dir, formats=("html", "json"))
    assert set(written) == {"html", "json"}
    return json.loads(written["json"].read_text()), written["html"].read_text()


def _read(run_dir: Path) -> tuple[dict[str, Any], str]:
    return json.loads((run_dir / "report.json").read_text()), (run_dir / "report.html").read_text()


def _without_figures(results: dict[str, Any]) -> dict[str, Any]:
    """A variant that skips drawing (the figures are tested on the shared builds)."""
    return {k: v for k, v in results.items() if k != "figures"}


def test_report_json_matches_its_schema(built_run: Path) -> None:
    document, _ = _read(built_run)
    validate_report(document)
    assert [s["id"] for s in document["sections"]] == list(SECTION_IDS)
    assert document["data_kind"] == "SIMULATED"


def test_every_number_of_report_json_equals_its_source(built_run: Path) -> None:
    document, _ = _read(built_run)
    results = json.loads((built_run / "results.json").read_text())
    protocol_text = (built_run / "protocol.resolved.yaml").read_text()
    records = [json.loads(line) for line in (built_run / "metrics.jsonl").read_text().splitlines()]
    checked = 0
    for section in document["sections"]:
        for key, value in section["data"].items():
            file_name, pointer = split_source(section["sources"][key])
            if file_name == "results.json":
                expected = resolve_pointer(results, pointer)
                found, wanted = _numbers(value), _numbers(expected)
                assert len(found) == len(wanted) and all(
                    loc_a == loc_b and _same(a, b) for (loc_a, a), (loc_b, b) in zip(found, wanted)
                ), f"{section['id']}.{key} differs from results.json{pointer}"
                assert value == expected
                checked += len(found)
            elif file_name == "protocol.resolved.yaml":
                source = protocol_text if pointer is None else resolve_pointer(yaml.safe_load(protocol_text), pointer)
                assert value == source
            else:
                assert file_name == "metrics.jsonl"
                for curve in value:
                    for x, y in zip(curve["x"], curve["y"]):
                        assert any(r.get(curve["x_key"]) == x and r.get(curve["name"]) == y
                                   and r.get("phase") == curve["phase"] for r in records)
                        checked += 2
    assert checked > 50


def test_report_json_holds_numbers_only_where_it_names_their_source(built_run: Path) -> None:
    document, _ = _read(built_run)
    outside = {k: v for k, v in document.items() if k != "sections"}
    outside["sections"] = [{k: v for k, v in s.items() if k != "data"} for s in document["sections"]]
    assert _numbers(outside) == []


def test_primary_endpoint_numbers_reach_the_report_unchanged(built_runs: dict[str, Path]) -> None:
    run = built_runs["brain_speech"]
    document, html = _read(run)
    results = json.loads((run / "results.json").read_text())
    primary = next(s for s in document["sections"] if s["id"] == "primary_result")
    assert primary["data"]["value"] == results["primary_endpoint"]["value"]
    assert primary["data"]["ci95"] == results["primary_endpoint"]["ci95"]
    assert primary["sources"]["ci95"] == "results.json#/primary_endpoint/ci95"
    assert document["verdict"] == {"label": "PASS", "passed": True,
                                   "rule": "PASS: top10_accuracy = 0.4102 >= 0.2 (pre-specified)"}
    assert "PASS: top10_accuracy = 0.4102 &gt;= 0.2 (pre-specified)" in html
    assert "1000 resamples, seed 0" in html


def test_failing_run_states_the_rule_it_failed(make_run, results_of) -> None:
    results = results_of("brain_speech")
    results["primary_endpoint"].update(threshold=0.5, passed=False)
    document, html = _build(make_run(_without_figures(results), records=[]))
    assert document["verdict"]["rule"] == "FAIL: top10_accuracy = 0.4102 not >= 0.5 (pre-specified)"
    assert "verdict-fail" in html


def test_html_is_self_contained_without_any_url(built_run: Path) -> None:
    _, html = _read(built_run)
    assert not re.search(r"(?i)https?://", html)
    assert not re.search(r"(?i)\b(?:src|href)\s*=\s*[\"'](?!data:image/png;base64,|#)", html)
    # url(#id) is an SVG clip path inside the page, the only url( allowed
    assert "<link" not in html and "@import" not in html and not re.search(r"url\((?!#)", html)
    assert html.count("<style>") == 1 and html.count('<svg role="img"') >= 3
    assert "<details open" in html and 'class="toc"' in html and "@media print" in html


def test_url_in_user_text_is_shown_but_not_written_as_a_url(built_runs: dict[str, Path]) -> None:
    _, html = _read(built_runs["dna_species"])
    assert "https&#58;//www.ncbi.nlm.nih.gov/refseq/" in html


def test_user_strings_are_escaped(built_runs: dict[str, Path]) -> None:
    document, html = _read(built_runs["dna_species"])
    assert SCRIPT_ID not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;B. subtilis&lt;/b&gt;" in html
    assert html.count("<script>") == 1  # the page's own expand/collapse script, nothing else
    worst = next(s for s in document["sections"] if s["id"] == "worst_cases")
    assert worst["data"]["worst_cases"][0]["id"] == SCRIPT_ID


def test_minimal_results_say_not_reported(make_run, results_of) -> None:
    full = results_of("brain_speech")
    minimal = {"pipeline": full["pipeline"], "primary_endpoint": full["primary_endpoint"]}
    run = make_run(minimal, protocol=False, records=[])
    document, html = _build(run)
    status = {s["id"]: s["status"] for s in document["sections"]}
    for section in ("exclusions", "subgroups", "worst_cases", "figures", "training_curves", "model", "intended_use"):
        assert status[section] == "not reported", section
    assert document["data_kind"] == "NOT STATED"
    assert "not reported" in html and "NOT STATED DATA" in html
    limitations = next(s for s in document["sections"] if s["id"] == "limitations")
    assert any("disjointness" in item for item in limitations["bullets"])


def test_subgroups_are_marked_by_the_protocol_list(make_run, results_of) -> None:
    results = _without_figures(results_of("dna_species"))
    qualified = {**results["subgroups"][0], "name": "species by sequence length", "prespecified": False}
    results["subgroups"].append(qualified)
    run = make_run(results, prespecified=["species", "phylum"], records=[])
    document, html = _build(run)
    section = next(s for s in document["sections"] if s["id"] == "subgroups")
    alerts = " ".join(alert["text"] for alert in section["alerts"])
    assert "'gc_content' is flagged pre-specified" in alerts
    assert "Pre-specified subgroup 'phylum' was not reported" in alerts and "'species' was not" not in alerts
    assert "species (pre-specified)" in html and "gc_content (exploratory)" in html
    # A name that qualifies a listed one ("species by ...") is that pre-specified subgroup.
    assert "species by sequence length (pre-specified)" in html


def test_automatic_limitations_name_the_problems(built_runs: dict[str, Path]) -> None:
    document, _ = _read(built_runs["audio_temporal"])
    limitations = next(s for s in document["sections"] if s["id"] == "limitations")
    text = " ".join(limitations["bullets"])
    assert limitations["bullets"][:2] == ["Composed clips only.", "One seed."]
    assert "Simulated data" in text and "disjointness was not asserted" in text and "uncommitted" in text


def test_malformed_figure_is_noted_and_the_report_still_built(make_run, results_of) -> None:
    results = results_of("audio_temporal")
    results["figures"] = [results["figures"][1], {"kind": "pie", "title": "not a kind"}]
    document, html = _build(make_run(results, records=[]))
    assert any("unknown kind 'pie'" in note for note in document["notes"])
    assert next(s for s in document["sections"] if s["id"] == "figures")["status"] == "partly reported"
    assert html.count('<svg role="img"') == 2  # the primary estimate and the one good figure


def test_missing_or_broken_results_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="no results.json"):
        build_report(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(BioclError, match="not valid JSON"):
        build_report(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"pipeline": "dna_species"}))
    with pytest.raises(BioclError, match="primary_endpoint"):
        build_report(tmp_path)
    assert not list(tmp_path.glob("report*")) and not list(tmp_path.glob(".report*"))


def test_unknown_format_is_refused(built_runs: dict[str, Path]) -> None:
    with pytest.raises(BioclError, match="unknown report format 'docx'"):
        build_report(built_runs["audio_temporal"], formats=("html", "docx"))


def test_validator_rejects_a_value_without_source(built_runs: dict[str, Path]) -> None:
    document, _ = _read(built_runs["audio_temporal"])
    document["sections"][0]["data"]["invented"] = 1.0
    with pytest.raises(BioclError, match="data and sources differ"):
        validate_report(document)
    document["sections"][0]["data"].pop("invented")
    document["sections"].reverse()
    with pytest.raises(BioclError, match="sections are"):
        validate_report(document)
    document["verdict"]["label"] = "MAYBE"
    with pytest.raises(BioclError, match="schema at verdict/label"):
        validate_report(document)


@pytest.mark.parametrize(("chromium", "reason"), [("/bin/false", "Chromium exited 1 without a PDF"),
                                                  ("/no/such/chromium", "no Chromium found")])
def test_pdf_is_skipped_with_the_reason_when_chromium_fails(chromium: str, reason: str, make_run, results_of,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(_without_figures(results_of("audio_temporal")), records=[])
    monkeypatch.setenv("BIOCL_CHROMIUM", chromium)
    assert reason in print_pdf(run / "results.json", run / "report.pdf")
    written = build_report(run, formats=("pdf",))
    assert set(written) == {"html"} and not list(run.glob("*.pdf")) and not list(run.glob(".report.pdf*"))
