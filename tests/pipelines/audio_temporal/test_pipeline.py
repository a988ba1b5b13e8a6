"""The audio temporal pipeline end to end on a tiny protocol, its CLI, and the FSDD protocol on real clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from biocl.utils.errors import BioclError
from biocl.pipelines import run_protocol
from biocl.protocols.base import load_protocol, validate_protocol

REPO = Path(__file__).resolve().parents[3]

TINY = {
    "name": "audio_tiny", "version": "1", "pipeline": "audio_temporal", "seed": 0,
    "data": {"simulation": {"n_classes": 4, "clips_per_class": 6, "clip_s": 0.25, "sample_rate_hz": 8000},
             "sample_rate_hz": 8000, "clip_s": 0.25, "eval_pair_fraction": 0.34, "eval_instances_per_pair": 2,
             "train_rounds_per_epoch": 2},
    "model": {"embed_dim": 8, "audio": {"n_mels": 16, "n_fft": 128, "hop_length": 64, "channels": [4, 8],
                                        "time_bins": 2, "hidden_dim": 16, "output_dim": 16},
              "text": {"d_model": 16, "n_layers": 2, "n_heads": 2, "ff_dim": 32, "max_tokens": 12}},
    "loss": {"a_same": 1.0, "a_cross": 0.25, "replay_weight": 1.0},
    "train": {"threads": 1, "device": "cpu", "phases": [
        {"name": "pretrain", "epochs": 2, "batch_size": 8, "init_from": "none"},
        {"name": "temin_a", "epochs": 1, "batch_size": 4, "trainable": ["@paper"]},
        {"name": "temin_b", "epochs": 1, "batch_size": 4, "trainable": ["@paper", "text.layers.0."]}]},
    "evaluate": {"n_task4_candidates": 10, "n_permutations": 50},
    "acceptance": {"metric": "zste_task3_after", "threshold": 0.9, "unit": "class pair"},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[str]]:
    """One tiny run, with a spy recording which loss each post-training step used."""
    from biocl.heads.losses import ClipLoss, TNCELoss

    calls: list[str] = []
    real_tnce, real_clip = TNCELoss.forward, ClipLoss.forward

    def tnce(self, *args, **kwargs):
        calls.append("tnce")
        return real_tnce(self, *args, **kwargs)

    def clip(self, *args, **kwargs):
        calls.append("clip")
        return real_clip(self, *args, **kwargs)

    patch = pytest.MonkeyPatch()
    patch.setenv("BIOCL_CACHE", str(tmp_path_factory.mktemp("cache")))
    patch.setattr(TNCELoss, "forward", tnce)
    patch.setattr(ClipLoss, "forward", clip)
    try:
        run_dir, results = run_protocol(validate_protocol(TINY), tmp_path_factory.mktemp("runs") / "tiny",
                                        report=False)
    finally:
        patch.undo()
    return run_dir, results, calls


def test_results_hold_every_metric_before_and_after(tiny_run: tuple[Path, dict, list[str]]) -> None:
    run_dir, results, _ = tiny_run
    tasks = [f"zste_task{k}" for k in range(1, 6)] + ["compa_text", "compa_audio", "compa_group",
                                                       "retrieval_a2t_r1", "retrieval_t2a_map10"]
    for task in tasks:
        assert set(results["before_after"][task]) == {"before", "after"}
        assert f"{task}_before" in results["metrics"] and f"{task}_after" in results["metrics"]
    endpoint = results["primary_endpoint"]
    # 2 held-out class pairs, each one unit holding its 2 instances x (forward, reversed) joins.
    assert endpoint["n_units"] == 2 and endpoint["unit_weights"] == [4.0, 4.0]
    assert set(endpoint["unit_values"]) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert all(len(i.split("+")) == 2 for i in endpoint["unit_ids"])
    assert np.average(endpoint["unit_values"], weights=endpoint["unit_weights"]) == pytest.approx(
        results["metrics"]["zste_task3_after"])
    assert "class pairs" in endpoint["ci_method"]
    assert results["data"]["simulated"] is True and len(results["data"]["sha256"]) == 64
    assert (run_dir / "model" / "model.safetensors").is_file()
    assert results["checkpoint"]["sha256"] and results["device"] == "cpu"


def test_held_out_pairs_are_never_composed_in_post_training(tiny_run: tuple[Path, dict, list[str]]) -> None:
    _, results, _ = tiny_run
    assert results["disjointness"]["asserted"] is True
    flow = {row["stage"]: row["count"] for row in results["flow"]}
    assert flow["unordered class pairs"] == 6
    assert flow["post-training class pairs"] + flow["validation class pairs"] + flow["held-out test class pairs"] == 6
    assert flow["held-out test class pairs"] == 2 and flow["validation class pairs"] == 1
    assert flow["pretraining clips"] + flow["validation clips"] + flow["test clips (task 1)"] == 4 * 6


def test_validation_pairs_and_clips_are_apart_from_test_and_training(tmp_path: Path) -> None:
    from biocl.pipelines.audio_temporal.data import prepare_data

    prepared = prepare_data(validate_protocol(TINY), cache_dir=tmp_path / "cache")
    train, val, test = set(prepared.train_pairs), set(prepared.val_pairs), set(prepared.eval_pairs)
    assert val and test and train and not (val & test) and not ((val | test) & train)
    assert len(train | val | test) == 6
    for k in range(4):
        rows = {split: {w.tobytes() for w in clips[k]} for split, clips in
                (("train", prepared.train_clips), ("val", prepared.val_clips), ("test", prepared.test_clips))}
        assert rows["val"] and not (rows["val"] & rows["test"]) and not (rows["val"] & rows["train"])
    # Validation items compose validation clips on validation pairs only.
    assert {tuple(sorted(p)) for p in prepared.val_items.pair_classes.tolist()} == val
    val_rows = {w.tobytes() for k in range(4) for w in prepared.val_clips[k]}
    assert {w.tobytes() for w in prepared.val_items.singles} == val_rows


def test_epochs_are_chosen_on_validation_and_test_is_scored_after_training(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import biocl.pipelines.audio_temporal.evaluation as evaluation
    import biocl.pipelines.audio_temporal.pipeline as pipeline
    from biocl.train.trainer import Trainer

    seen: list[str] = []
    val_ids: list[list[str]] = []
    real_evaluate, real_fit, real_model_and_data = evaluation.evaluate_zste, Trainer.fit, pipeline._model_and_data

    def evaluate(*args, **kwargs):
        seen.append("val" if args[3].pair_ids == val_ids[0] else "test")
        return real_evaluate(*args, **kwargs)

    def fit(self, specs):
        seen.append("fit")
        return real_fit(self, specs)

    def model_and_data(protocol, context):
        model, prepared = real_model_and_data(protocol, context)
        val_ids.append(prepared.val_items.pair_ids)
        return model, prepared

    monkeypatch.setattr(evaluation, "evaluate_zste", evaluate)
    monkeypatch.setattr(Trainer, "fit", fit)
    monkeypatch.setattr(pipeline, "_model_and_data", model_and_data)
    monkeypatch.setenv("BIOCL_CACHE", str(tmp_path / "cache"))
    _, results = run_protocol(validate_protocol(TINY), tmp_path / "run", report=False)
    collapsed = [s for i, s in enumerate(seen) if i == 0 or not (s == "val" == seen[i - 1])]
    # Model: validation during its fit, then the test items once before and once after post-training;
    # baseline: validation during its fit, then the test items once.
    assert collapsed == ["fit", "val", "test", "test", "fit", "val", "test"]
    assert results["validation"]["pretrain"]["monitor"] == "val_zste_task1"
    assert results["validation"]["temin_b"]["monitor"] == "val_zste_task3"
    assert all("val_zste_task3" in r for r in results["phases"])


def test_teminal_a_only_baseline_is_trained_without_tnce(tiny_run: tuple[Path, dict, list[str]]) -> None:
    _, results, calls = tiny_run
    baseline = results["baselines"]["teminal_a_only"]
    assert set(baseline) >= {"zste_task3_after", "zste_task1_after"}
    # Its task 3 has an interval over the same held-out class pairs as the model's.
    low, high = results["metric_intervals"]["teminal_a_only"]["zste_task3_after"]
    assert 0 <= low <= baseline["zste_task3_after"] <= high <= 1
    assert [r["phase"] for r in results["teminal_a_only"]["phases"]] == ["temin_a", "temin_b"]
    # The last TNCE call belongs to the model; the baseline's post-training that follows uses CLIP only.
    assert calls[-1] == "clip" and "tnce" not in calls[len(calls) - calls[::-1].index("tnce"):]
    gain = results["teminal_a_only"]["model_minus_baseline"]["zste_task3"]
    assert gain == pytest.approx(results["metrics"]["zste_task3_after"] - baseline["zste_task3_after"])


def test_class_pair_units_weight_each_pair_by_its_joins() -> None:
    from types import SimpleNamespace

    from biocl.pipelines.audio_temporal.pipeline import class_pair_units

    items = SimpleNamespace(pair_classes=np.array([[0, 1], [1, 0], [2, 0], [0, 1]]))
    prepared = SimpleNamespace(class_names=["a", "b", "c"], items=items)
    # forward joins then reversed joins of the 4 items: pair a+b has 6 joins, a+c has 2.
    task3 = np.array([1, 1, 0, 0, 1, 0, 1, 1], dtype=float)
    values, weights, ids = class_pair_units(task3, prepared)
    assert ids == ["a+b", "a+c"] and weights == [6.0, 2.0]
    assert values == pytest.approx([4 / 6, 0.5])
    assert np.average(values, weights=weights) == pytest.approx(task3.mean())


def test_tnce_loss_path_is_used_in_temin_b(tiny_run: tuple[Path, dict, list[str]]) -> None:
    _, results, calls = tiny_run
    assert "tnce" in calls and "clip" in calls
    phases = [r["phase"] for r in results["phases"]]
    assert phases == ["pretrain", "pretrain", "temin_a", "temin_b"]


def test_report_material_has_the_design_shapes(tiny_run: tuple[Path, dict, list[str]]) -> None:
    _, results, _ = tiny_run
    kinds = [f["kind"] for f in results["figures"]]
    assert kinds.count("grouped_bar") == 2 and kinds.count("heatmap") == 2
    heatmap = next(f for f in results["figures"] if f["kind"] == "heatmap")
    assert np.asarray(heatmap["matrix"]).shape == (3, 3) and len(heatmap["col_labels"]) == 3
    assert results["subgroups"][0]["prespecified"] is False and results["subgroups"][0]["rows"]
    assert 0 < results["permutation_test"]["p_value"] <= 1
    assert results["model"]["parameters"] > 0 and "trainable_per_phase" in results["model"]["spec"]
    assert all({"id", "value", "detail"} <= set(w) for w in results["worst_cases"])


def test_data_quality_calibration_and_worst_pairs_are_reported(tiny_run: tuple[Path, dict, list[str]]) -> None:
    from biocl.report.quality import calibration_summary

    _, results, _ = tiny_run
    quality = results["data_quality"]
    rows = quality["tables"][0]["rows"]
    # 4 classes x 6 simulated clips of 0.25 s, read at 8 kHz; the levels are real (not silent, not above 0 dBFS).
    assert [row[1] for row in rows] == [6, 6, 6, 6] and quality["counts"]["clips"] == 24
    assert all(row[3] == pytest.approx(0.25, abs=1e-3) for row in rows)
    assert all(-60.0 < row[5] <= row[6] <= row[7] <= 0.0 for row in rows)
    assert [f["kind"] for f in quality["figures"]] == ["grouped_bar", "grouped_bar"]
    entries = results["calibration"]
    assert [e["name"] for e in entries] == ["zero-shot classification (task 1), after post-training",
                                            "zero-shot classification (task 1), before post-training"]
    after = entries[0]
    n_single = round(results["metrics"]["zste_task1_after"] * len(after["correct"]))
    # The top class's softmax probability over 4 classes is at least 1/4; correct is the scored task 1.
    assert all(0.25 - 1e-9 <= c <= 1.0 for c in after["confidence"])
    assert sum(after["correct"]) == n_single
    assert np.mean(after["correct"]) == pytest.approx(results["metrics"]["zste_task1_after"])
    assert after["logit_scale"] == pytest.approx(results["metrics"]["logit_scale_after"])
    assert 0.0 <= calibration_summary(after["confidence"], after["correct"])["ece"] <= 1.0
    for case in results["worst_cases"]:
        assert case["metric"] and case["higher_is_better"] is True
        assert case["pair"] == case["id"] and "+" in case["pair"]
        assert all(name.endswith(".wav") for join in case["clips"].split("; ") for name in join.split(" + "))


def test_a_tiny_run_reports_its_data_quality_calibration_and_worst_cases(tiny_run: tuple[Path, dict, list[str]]
                                                                          ) -> None:
    from biocl.report import build_report

    run_dir, _, _ = tiny_run
    written = build_report(run_dir, formats=("json",))
    sections = {s["id"]: s for s in json.loads(written["json"].read_text())["sections"]}
    for name in ("data_quality", "calibration", "worst_cases"):
        assert sections[name]["status"] == "reported", name
    assert "not reported" not in json.dumps(sections["data_quality"])


def test_same_protocol_same_results(tiny_run: tuple[Path, dict, list[str]], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _, first, _ = tiny_run
    monkeypatch.setenv("BIOCL_CACHE", str(tmp_path / "cache"))
    _, second = run_protocol(validate_protocol(TINY), tmp_path / "again", report=False)
    assert second["metrics"] == first["metrics"]


def test_evaluation_is_not_random(tiny_run: tuple[Path, dict, list[str]], tmp_path: Path) -> None:
    from biocl.encoders.clap import load_clap
    from biocl.pipelines.audio_temporal.data import prepare_data
    from biocl.pipelines.audio_temporal.evaluation import evaluate_model

    run_dir, results, _ = tiny_run
    protocol = validate_protocol(TINY)
    model = load_clap(run_dir / "model")
    # Simulated again into a fresh folder: the same seed writes the same clips.
    prepared = prepare_data(protocol, sample_rate_hz=8000, cache_dir=tmp_path / "cache")
    first, second = evaluate_model(model, prepared, protocol), evaluate_model(model, prepared, protocol)
    assert first.metrics == second.metrics
    assert first.metrics["zste_task3"] == pytest.approx(results["metrics"]["zste_task3_after"])


def test_bad_phase_name_and_unknown_trainable_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOCL_CACHE", str(tmp_path / "cache"))
    raw = json.loads(json.dumps(TINY))
    raw["train"]["phases"][0]["name"] = "warmup"
    with pytest.raises(BioclError, match="unknown phase 'warmup'"):
        run_protocol(validate_protocol(raw), tmp_path / "a", report=False)
    raw = json.loads(json.dumps(TINY))
    raw["train"]["phases"][1]["trainable"] = ["no_such_layer."]
    with pytest.raises(BioclError, match="matches no parameter"):
        run_protocol(validate_protocol(raw), tmp_path / "b", report=False)


def test_cli_simulate_embed_and_evaluate(tiny_run: tuple[Path, dict, list[str]], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from biocl_cli.main import main
    from biocl_cli.output import state

    run_dir, _, _ = tiny_run
    assert main(["simulate", "audio", str(tmp_path / "sim"), "--classes", "3", "--clips-per-class", "2",
                 "--clip-s", "0.25", "--sample-rate", "8000"]) == 0
    wavs = sorted(str(p) for p in (tmp_path / "sim" / "audio").glob("*.wav"))[:3]
    capsys.readouterr()
    try:
        assert main(["--json", "audio", "embed", str(run_dir / "model"), *wavs, "--out", str(tmp_path / "e")]) == 0
        document = json.loads(capsys.readouterr().out)
    finally:
        state.json = False
    embeddings = np.load(tmp_path / "e.npy")
    assert document["n"] == 3 and embeddings.shape == (3, 8)
    assert (tmp_path / "e.ids.txt").read_text().splitlines() == wavs
    assert main(["audio", "embed", str(run_dir / "model"), str(tmp_path / "missing.wav"), "--out",
                 str(tmp_path / "x")]) == 2
    assert "missing.wav" in capsys.readouterr().err


@pytest.mark.realdata
def test_fsdd_protocol_runs_on_real_clips(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOCL_CACHE", str(tmp_path / "cache"))
    overrides = [f"data.root={shared_data / 'audio_events' / 'fsdd'}", "data.max_clips_per_label=12",
                 "data.train_rounds_per_epoch=1", "data.eval_instances_per_pair=1",
                 "model.audio.channels=[4, 8]", "model.text.n_layers=1", "evaluate.n_permutations=20",
                 "train.phases.0.epochs=1", "train.phases.1.epochs=1", "train.phases.2.epochs=1",
                 "train.phases.1.trainable=[\"@paper\"]", "train.phases.2.trainable=[\"@paper\"]"]
    protocol = load_protocol(REPO / "protocols" / "audio_temporal_fsdd.yaml", overrides)
    torch.set_num_threads(1)
    _, results = run_protocol(protocol, tmp_path / "fsdd", report=False)
    assert results["data"]["simulated"] is False and results["data"]["licence"] == "CC BY-SA 4.0"
    assert "zste_task3" in results["before_after"] and "compa_group" in results["before_after"]
    flow = {row["stage"]: row["count"] for row in results["flow"]}
    assert flow["classes"] == 10 and flow["unordered class pairs"] == 45
    names = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
    assert all(set(w["id"].split("+")) <= names for w in results["worst_cases"])


def test_cli_pretrain_then_posttrain_then_evaluate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from biocl_cli.main import main

    monkeypatch.setenv("BIOCL_CACHE", str(tmp_path / "cache"))
    # The report builder has its own tests; drawing three reports here would take most of a minute.
    monkeypatch.setattr("biocl.report.build_report", lambda run_dir: None)
    protocol = tmp_path / "tiny.yaml"
    protocol.write_text(yaml.safe_dump(TINY))
    assert main(["audio", "pretrain", str(protocol), "--out", str(tmp_path / "pre")]) == 0
    pretrained = json.loads((tmp_path / "pre" / "results.json").read_text())
    assert [r["phase"] for r in pretrained["phases"]] == ["pretrain", "pretrain"]
    assert main(["audio", "posttrain", str(protocol), "--model", str(tmp_path / "pre" / "model"),
                 "--out", str(tmp_path / "post")]) == 0
    post = json.loads((tmp_path / "post" / "results.json").read_text())
    assert [r["phase"] for r in post["phases"]] == ["temin_a", "temin_b"]
    # "Before" is the pretrained model as loaded: the same numbers the pretraining run ended with.
    assert post["before_after"]["zste_task3"]["before"] == pretrained["before_after"]["zste_task3"]["after"]
    capsys.readouterr()
    assert main(["audio", "evaluate", str(tmp_path / "post" / "model"), "--protocol", str(protocol)]) == 0
    assert "zste_task3" in capsys.readouterr().out
