"""Figure specs drawn into embedded PNGs, and training curves read from metrics.jsonl records."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest

from biocl.utils.errors import BioclError
from biocl.report.figures import FIGURE_KINDS, draw_figure, estimate_figure, training_curves

SPECS = {
    "bar": {"kind": "bar", "title": "per subject", "labels": ["a", "b"], "values": [0.2, 0.4],
            "ci": [[0.1, 0.3], [0.35, 0.5]], "ylabel": "acc"},
    "grouped_bar": {"kind": "grouped_bar", "title": "before/after", "labels": ["order", "count"],
                    "series": {"before": [0.5, 0.4], "after": [0.8, 0.7]}, "ylabel": "acc"},
    "histogram": {"kind": "histogram", "title": "ranks", "values": [1, 2, 2, 3, 9], "bins": 4, "xlabel": "rank"},
    "curve": {"kind": "curve", "title": "top-k", "x": [1, 5, 10], "series": {"model": [0.1, 0.3, 0.4]},
              "xlabel": "k", "ylabel": "acc"},
    "heatmap": {"kind": "heatmap", "title": "bins", "matrix": [[1, 0], [2, 5]], "row_labels": ["x", "y"],
                "col_labels": ["b0", "b1"]},
    "scatter": {"kind": "scatter", "title": "map", "x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 1.0],
                "labels": ["E. coli", "$100 sp.", "E. coli"]},
}


def _svg_size(figure: dict) -> tuple[float, float]:
    """Width and height (points) of an inline SVG figure; it carries its title and no URL."""
    svg = figure["svg"]
    assert svg.startswith("<svg ") and f"<title>{figure['title']}</title>" in svg
    assert "http" not in svg and "<?xml" not in svg
    width, height = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups()
    return float(width), float(height)


def _png_size(encoded: str) -> tuple[int, int]:
    from PIL import Image

    data = base64.b64decode(encoded)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"matplotlib.org" not in data  # no URL hidden in the PNG's metadata either
    return Image.open(io.BytesIO(data)).size


def test_the_specs_cover_every_kind() -> None:
    assert set(SPECS) == set(FIGURE_KINDS)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_each_kind_draws_a_png(kind: str) -> None:
    figure = draw_figure(SPECS[kind])
    assert figure["kind"] == kind and figure["title"] == SPECS[kind]["title"]
    width, height = _svg_size(figure)  # points: 72 a inch
    assert width >= 450 and height >= 250


def test_estimate_figure_draws_threshold_chance_and_baselines() -> None:
    figure = estimate_figure("top10", 0.41, [0.35, 0.47], threshold=0.2, chance=0.1, baselines={"random": 0.1})
    assert _svg_size(figure)[0] >= 450
    assert "threshold 0.2" in figure["svg"] and "chance 0.1" in figure["svg"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"kind": "pie", "title": "t"}, "unknown kind 'pie'"),
    ({"kind": "bar", "title": "t", "labels": ["a"], "values": [1.0, 2.0]}, "lengths differ"),
    ({"kind": "curve", "title": "t", "x": [1, 2], "series": {}}, "has no series"),
    ({"kind": "histogram", "title": "t"}, "has no 'values'"),
    ({"kind": "scatter", "title": "t", "x": ["a"], "y": [1.0]}, "not a list of numbers"),
    ({"kind": "heatmap", "title": "t", "matrix": [1, 2]}, "not two-dimensional"),
])
def test_malformed_specs_are_refused_with_the_reason(spec: dict, message: str) -> None:
    with pytest.raises(BioclError, match=message):
        draw_figure(spec)


def test_training_curves_pair_each_value_with_its_step_or_epoch() -> None:
    records = [
        {"phase": "I", "epoch": 0, "step": 0, "loss": 3.0, "lr": 0.1},
        {"phase": "I", "epoch": 0, "step": 1, "loss": 2.5, "lr": 0.1},
        {"phase": "I", "epoch": 0, "val_acc": 0.2},
        {"phase": "II", "epoch": 0, "step": 0, "loss": 1.5, "flag": True, "note": "text", "bad": float("nan")},
        {"loss": 1.0},
    ]
    curves = {(c["name"], c["phase"], c["x_key"]): (c["x"], c["y"]) for c in training_curves(records)}
    assert curves == {
        ("loss", "I", "step"): ([0, 1], [3.0, 2.5]),
        ("lr", "I", "step"): ([0, 1], [0.1, 0.1]),
        ("val_acc", "I", "epoch"): ([0], [0.2]),
        ("loss", "II", "step"): ([0], [1.5]),
        ("loss", None, "record"): ([4], [1.0]),
    }


def test_no_numeric_record_gives_no_curve() -> None:
    assert training_curves([]) == []
    assert training_curves([{"phase": "I", "epoch": 1, "note": "start"}]) == []


def test_large_scatter_and_heatmap_stay_readable() -> None:
    rng = np.random.default_rng(0)
    scatter = {"kind": "scatter", "title": "many species", "x": rng.normal(size=500).tolist(),
               "y": rng.normal(size=500).tolist(), "labels": [f"sp{k % 30}" for k in range(500)]}
    heatmap = {"kind": "heatmap", "title": "big", "matrix": rng.random((50, 60)).tolist(),
               "row_labels": [f"r{k}" for k in range(50)], "col_labels": [f"c{k}" for k in range(60)]}
    for spec in (scatter, heatmap):
        assert _svg_size(draw_figure(spec))[0] >= 450


def test_a_figure_too_heavy_for_svg_is_a_png() -> None:
    rng = np.random.default_rng(0)
    figure = draw_figure({"kind": "scatter", "title": "many points", "x": rng.normal(size=20_000).tolist(),
                          "y": rng.normal(size=20_000).tolist()})
    assert "svg" not in figure and _png_size(figure["png_base64"])[0] >= 600


def test_reference_lines_and_units_are_drawn() -> None:
    svg = draw_figure({**SPECS["bar"], "ylabel": "top10_accuracy", "chance": 0.1, "threshold": 0.2})["svg"]
    assert "top-10 accuracy (proportion, 0-1)" in svg and "chance 0.1" in svg and "threshold 0.2" in svg


def test_constant_and_random_series_are_not_plotted() -> None:
    from biocl.report.figures import constant_curves, training_curve_figures

    records = [{"step": s, "loss": 3.0 - 0.1 * s, "lr": 1e-3, "train_mix_layer": s % 3} for s in range(5)]
    curves = training_curves(records)
    assert {c["name"] for c in curves} == {"loss", "lr"}  # the random layer draw is no metric
    titles = [f["title"] for f in training_curve_figures(curves)]
    assert titles == ["Training losses per step"]  # the constant learning rate is said, not drawn
    assert constant_curves(curves) == ["learning rate stayed at 0.001 for all 5 records."]


def test_phases_are_named_in_words_in_legends_and_sentences() -> None:
    from biocl.report.figures import _curve_label, constant_curves

    records = [{"step": s, "phase": phase, "loss": 3.0 - 0.1 * s, "lr": 1e-3}
               for phase in ("weighted_simclr", "mimix") for s in range(3)]
    curves = training_curves(records)
    loss = next(c for c in curves if c["name"] == "loss" and c["phase"] == "weighted_simclr")
    assert _curve_label(loss, several_phases=True) == "loss, self-training the encoder"
    assert "learning rate (refining the encoder on mixed sequences (MI-Mix)) stayed at 0.001" in " ".join(
        constant_curves(curves))
    assert not any("weighted_simclr" in text or "phase " in text for text in constant_curves(curves))
