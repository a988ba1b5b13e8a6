"""Curated tables, worst cases, calibration, page helpers and the missing-PDF note, on hand-made runs."""

from __future__ import annotations

import pytest

from biocl.report import build_report
from biocl.report.builder import PDF_MISSING, read_run
from biocl.report.page import key_dump, page_label, readable_protocol, simulated_banner
from biocl.report.quality import calibration_section, calibration_summary
from biocl.report.sections import _shared_heatmap_scale, _worst_cases
from biocl.report.tables import before_after_table, curated_metric_table


def _texts(table: dict) -> list[list[str]]:
    return [[cell["text"] for cell in row] for row in table["rows"]]


def test_curated_table_has_labels_units_and_one_decimals_rule(make_run, results_of) -> None:
    results = results_of("dna_species")
    results["metrics"].update(binning_threshold=0.007463, n_candidates=40.0, chance_top1=0.1)
    table = curated_metric_table(read_run(make_run(results)))
    rows = _texts(table)
    assert table["columns"] == ["Metric", "Unit", "model", "tnf"]
    assert rows[0] == ["few-shot species accuracy", "proportion, 0-1", "0.650 [0.500 to 0.800]", "0.450"]
    assert ["binning F1", "proportion, 0-1", "0.550", "not reported"] in rows
    assert not any("chance" in row[0] or "candidates" in row[0] for row in rows)  # not a dna row


def test_audio_before_values_never_sit_in_the_model_column(make_run, results_of) -> None:
    results = results_of("audio_temporal")
    results["metrics"] = {"zste_task3_before": 0.5, "zste_task3_after": 0.9, "zste_task1_before": 0.007463,
                          "zste_task1_after": 0.222}
    results["baselines"] = {"random_text": {"zste_task3": 0.33}}
    results.pop("before_after")
    results["primary_endpoint"]["metric"] = "zste_task3_after"
    run = read_run(make_run(results))
    rows = _texts(curated_metric_table(run))
    assert rows[0][:2] == ["ZSTE task 3", "proportion, 0-1"] and rows[0][2].startswith("0.900 [")
    assert rows[0][3] == "0.330"
    assert ["ZSTE task 1", "proportion, 0-1", "0.222", "not reported"] in rows
    change = _texts(before_after_table(run))
    assert ["ZSTE task 1", "proportion, 0-1", "0.007", "0.222", "+0.215"] in change


def test_worst_cases_are_worst_first_and_failures_only(make_run, results_of) -> None:
    results = results_of("audio_temporal")
    results["worst_cases"] = [{"id": "dog+bell", "value": 0.5}, {"id": "cat+rain", "value": 1.0},
                              {"id": "saw+hum", "value": 0.25, "pair": "saw then hum"}]
    section = _worst_cases(read_run(make_run(results)))
    table = section.tables[0]
    assert table["columns"][1] == "Task-3 accuracy of the class pair"
    assert [row[0] for row in _texts(table)] == ["saw+hum", "dog+bell"]
    assert _texts(table)[0][2] == "pair saw then hum"
    assert any("did not fail" in text for text in section.text)


def test_worst_cases_show_the_pipelines_identifiers_once(make_run, results_of) -> None:
    results = results_of("dna_species")
    results["worst_cases"] = [{"id": "E. coli", "value": 0.4, "metric": "binning F1 of the species (K-medoid bins)",
                               "higher_is_better": True, "species": "E. coli", "contig": "contig_3, contig_9",
                               "detail": "2 outside its matched bin"}]
    table = _worst_cases(read_run(make_run(results))).tables[0]
    assert table["columns"][1] == "Binning F1 of the species (K-medoid bins)"
    # The species is the identifier already: it is not said twice; the contigs a reader looks up are.
    assert _texts(table)[0] == ["E. coli", "0.400", "contig contig_3, contig_9; 2 outside its matched bin"]


def test_calibration_numbers() -> None:
    summary = calibration_summary([0.9, 0.9, 0.2, 0.2], [1, 0, 0, 0])
    assert summary["brier"] == pytest.approx((0.01 + 0.81 + 0.04 + 0.04) / 4)
    assert summary["ece"] == pytest.approx((2 * abs(0.5 - 0.9) + 2 * abs(0.0 - 0.2)) / 4)


def test_calibration_says_not_applicable_or_draws_a_reliability_diagram(make_run, results_of) -> None:
    section = calibration_section(read_run(make_run(results_of("brain_speech"))))
    assert section.alerts[0]["text"].startswith("not applicable: ")
    results = results_of("dna_species")
    results["calibration"] = [{"name": "few-shot species", "confidence": [0.9, 0.6, 0.3], "correct": [1, 1, 0]}]
    section = calibration_section(read_run(make_run(results)))
    assert section.figures[0]["title"].startswith("Reliability diagram: few-shot species (ECE ")
    assert _texts(section.tables[0])[0][0] == "few-shot species"


def test_similarity_heatmaps_share_one_scale() -> None:
    specs = [{"kind": "heatmap", "title": "Similarity before", "matrix": [[0.1, 0.2]]},
             {"kind": "heatmap", "title": "Similarity after", "matrix": [[0.5, 0.9]]},
             {"kind": "heatmap", "title": "Bins vs species", "matrix": [[3, 4]]}]
    shared = _shared_heatmap_scale(specs)
    assert [(s.get("vmin"), s.get("vmax")) for s in shared] == [(0.1, 0.9), (0.1, 0.9), (None, None)]


def test_protocol_appendix_is_utf8(make_run, results_of) -> None:
    run_dir = make_run(results_of("brain_speech"))
    (run_dir / "protocol.resolved.yaml").write_text('# sha256: ab\nname: x\ndescription: "D\\xE9fossez et al."\n',
                                                    encoding="utf-8")
    text = readable_protocol(read_run(run_dir))
    assert "Défossez et al." in text and "\\xE9" not in text and text.startswith("# sha256: ab\n")


def test_page_label_and_banner() -> None:
    assert page_label('"x"</style>') == '"biocl report \u00b7 run \\22 x\\22 \\3c /style\\3e "'
    assert "sounds are simulated" in simulated_banner("audio_temporal")
    assert "genomes are simulated" in simulated_banner("dna_species")
    assert "recordings are simulated" in simulated_banner("brain_speech")


def test_key_dump_summarises_long_lists(results_of) -> None:
    rows = {row[0]["text"]: row[1]["text"] for row in key_dump(results_of("dna_species"))["rows"]}
    assert rows["primary_endpoint.unit_values"] == "list of 40 values"
    assert rows["metrics.ari"] == "0.62"


def test_missing_pdf_is_said_in_the_run_folder(make_run, results_of, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("BIOCL_CHROMIUM", str(tmp_path / "no-such-chromium"))
    run_dir = make_run(results_of("dna_species"))
    written = build_report(run_dir, formats=("pdf",))
    assert "pdf" not in written
    note = (run_dir / PDF_MISSING).read_text(encoding="utf-8")
    assert note.startswith("No report.pdf was made: no Chromium found") and f"biocl report {run_dir}" in note


def test_dna_metric_keys_read_as_words(make_run, results_of) -> None:
    results = results_of("dna_species")
    results["metrics"] = {"ari": 0.875, "few_shot_f1_k1": 0.939, "graph_n_f1_above_0_5": 16,
                          "binning_threshold": 0.9944, "chance_ari": 0.0}
    results["baselines"] = {"tnf": {"ari": 0.355, "few_shot_f1_k1": 0.649, "graph_n_f1_above_0_5": 6}}
    results["primary_endpoint"]["metric"] = "ari"
    rows = _texts(curated_metric_table(read_run(make_run(results))))
    assert [row[0] for row in rows] == ["adjusted Rand index (ARI)", "few-shot F1, 1 shot",
                                        "genomes with F1 > 0.5 (kNN-graph bins)", "cosine threshold of the bins"]
    assert rows[2][1:] == ["count", "16", "6"] and rows[3][2] == "0.994"
