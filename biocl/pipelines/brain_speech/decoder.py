"""A trained brain-to-speech decoder: loading a run folder, re-scoring it, ranking a new recording's segments.

What `biocl decode evaluate` and `biocl decode predict` run. A run folder holds the best
checkpoint and ``checkpoints/decoder.json`` (subjects, feature statistics, sizes, the
resolved protocol), written by :func:`biocl.pipelines.brain_speech.pipeline.run`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from biocl.pipelines.brain_speech import evaluation
from biocl.pipelines.brain_speech.data import BrainSpeechData, prepare_data, speech_features, window_config
from biocl.pipelines.brain_speech.pipeline import DECODER_FILE, BrainSpeechNet, build_net, evaluate
from biocl.protocols.base import Protocol
from biocl.utils.errors import BioclError

__all__ = ["load_trained", "evaluate_run", "predict_recording"]


def load_trained(run_dir: str | Path) -> tuple[Protocol, BrainSpeechNet, dict[str, Any]]:
    """The protocol, trained net (best checkpoint) and decoder metadata of a finished run folder."""
    from biocl.protocols.base import load_protocol
    from biocl.utils.weights import load_weights

    run_dir = Path(run_dir)
    meta_path = run_dir / "checkpoints" / DECODER_FILE
    if not meta_path.exists():
        raise BioclError("not a trained brain_speech run folder (no checkpoints/decoder.json)", path=run_dir,
                         hint="train one with `biocl decode train`")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    protocol = load_protocol(run_dir / meta["protocol"])
    if meta.get("protocol_source"):
        protocol.source_path = Path(meta["protocol_source"])
    net = build_net(protocol, len(meta["subjects"]), int(meta["n_features"]))
    load_weights(net, run_dir / "checkpoints" / meta["checkpoint"])
    return protocol, net.eval(), meta



def evaluate_run(run_dir: str | Path, *, with_baselines: bool = True) -> dict[str, Any]:
    """Re-score a run's best checkpoint on its protocol's test sentences (`biocl decode evaluate`).

    Parameters
    ----------
    run_dir : str | Path
        A finished ``brain_speech`` run folder.
    with_baselines : bool
        Also score the ridge baseline and, on simulated data, the oracle.

    Returns
    -------
    dict
        ``run_dir``, ``metrics``, ``baselines`` and ``permutation_test``.

    Raises
    ------
    BioclError
        When the data no longer hold the subjects the decoder was trained on.
    """
    from biocl.train import select_device
    from biocl.utils.cache import default_cache_dir

    protocol, net, meta = load_trained(run_dir)
    bundle = prepare_data(protocol, default_cache_dir())
    if bundle.subject_index != meta["subjects"]:
        raise BioclError("the data no longer hold the subjects the decoder was trained on", path=run_dir)
    result = evaluate(protocol, bundle, net, select_device(protocol.train.device), with_baselines=with_baselines)
    return {"run_dir": str(run_dir), "metrics": result["metrics"], "baselines": result["baselines"],
            "permutation_test": result["permutation_test"]}


def predict_recording(run_dir: str | Path, recording: str | Path, *, events: str | Path, bids_root: str | Path | None = None,
                      subject: str | None = None, top: int = 10) -> dict[str, Any]:
    """Rank the candidate speech segments of a new recording with a trained decoder.

    Every word onset of ``events`` anchors a window; the candidates are the distinct
    segments (sentence, word index) of those events. The recording's robust scaler is
    fitted on its own windows (no labels are used), the speech features are standardised
    with the training statistics.

    Parameters
    ----------
    run_dir : str | Path
        A finished ``brain_speech`` run folder.
    recording : str | Path
        Any file MNE reads.
    events : str | Path
        Its ``events.tsv`` (plain or MEG-MASC style) naming the stimulus audio files.
    bids_root : str | Path | None
        Root the events' sound paths are relative to (default: the events file's folder).
    subject : str | None
        A training subject's label to use its subject layer; otherwise the shared layer
        for unseen subjects (the model must have been trained with ``unseen_subject``).
    top : int
        Candidates listed per window.

    Returns
    -------
    dict
        ``windows`` (onset, heard segment, its rank, the ``top`` best candidates), and the
        top-1/top-10 accuracy against the events' own segments.
    """
    from biocl.data.meg.scaling import RobustScaler
    from biocl.data.meg.windows import build_windows, extract_brain, prepare_recording
    from biocl.data.meg.bids import parse_events_tsv
    from biocl.data.meg.recording import read_recording
    from biocl.evaluate.retrieval import top_k_accuracy, true_ranks
    from biocl.train import select_device

    protocol, net, meta = load_trained(run_dir)
    if subject is None or subject not in meta["subjects"]:
        if not protocol.model.unseen_subject:
            raise BioclError(f"subject {subject!r} was not in training and the model has no shared subject layer",
                             path=run_dir, hint=f"pass --subject with one of {sorted(meta['subjects'])}, or train "
                                                "with model.unseen_subject: true")
    word_events = parse_events_tsv(events, bids_root=bids_root)
    rec = read_recording(recording, subject=subject or "new", events=word_events,
                         min_sfreq_hz=protocol.data.sfreq_hz)
    config = window_config(protocol.data)
    prepared = prepare_recording(rec, config)
    sounds = sorted({Path(e.sound_file) for e in prepared.events if e.sound_file is not None})
    if not sounds:
        raise BioclError("no word event names a stimulus audio file", path=events)
    speech, silence, _ = speech_features(sounds, protocol.data, None, protocol=protocol, stats=meta["feature_stats"])
    tables, sounds, _ = build_windows([prepared], {s: f.shape[1] for s, f in zip(sounds, speech, strict=True)},
                                      {e.sentence_id: "test" for e in prepared.events}, config)
    table = tables["test"]
    if len(table) == 0:
        raise BioclError("no word window fits inside the recording", path=recording)
    if config.scaler == "robust":
        fit_rows = np.linspace(0, len(table) - 1, min(len(table), config.max_scaler_windows)).round().astype(int)
        prepared.scaler = RobustScaler(config.quantile_range, config.clamp).fit(
            extract_brain(prepared, table.brain_start[fit_rows], config, scale=False))
    bundle = BrainSpeechData(recordings=[prepared], tables=tables, sounds=sounds, speech=speech,
                             silence=np.asarray(meta["silence"], np.float32), config=config,
                             subject_index=dict(meta["subjects"]), heldout=[], splits={}, exclusions={},
                             provenance={}, feature_stats=meta["feature_stats"])
    rows = np.arange(len(table))
    normalize = protocol.loss.normalize
    candidates, reps, true_index = evaluation.candidate_matrix(bundle, "test", rows, normalize)
    device = select_device(protocol.train.device)
    # The rule the run chose on its validation windows (decoders saved before rules were chosen: the loss's).
    scores = evaluation.score_windows(evaluation.model_predictor(net.to(device), device, False), bundle, "test", rows,
                                      candidates, normalize=normalize, batch_size=protocol.evaluate.batch_size,
                                      device=device, rule=meta.get("scoring_rule", "loss"))
    ranks = true_ranks(scores, true_index)
    segments, words = table.segment[rows[reps]], table.word[rows[reps]]
    windows = []
    for i, row in enumerate(rows):
        best = np.argsort(-scores[i], kind="stable")[:top]
        windows.append({"onset_s": float(table.brain_start[row] / prepared.sfreq_hz - config.tmin_s
                                               - config.brain_shift_s),
                        "segment": str(table.segment[row]), "word": str(table.word[row]), "rank": int(ranks[i]),
                        "top": [{"segment": str(segments[j]), "word": str(words[j]), "score": float(scores[i, j])}
                                for j in best]})
    return {"recording": str(recording), "subject_layer": subject if subject in meta["subjects"] else "shared",
            "n_windows": len(rows), "n_candidates": int(reps.size), "top1": top_k_accuracy(ranks, 1),
            "top10": top_k_accuracy(ranks, 10), "windows": windows}
