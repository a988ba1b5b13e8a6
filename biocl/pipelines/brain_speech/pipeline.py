"""Brain-to-speech decoding (Défossez et al. 2023): simulate or read, window, train, identify segments.

``run(protocol, context)`` does, in order:

1. data (:mod:`biocl.pipelines.brain_speech.data`): a simulated or real BIDS data set,
   speech features cached on disk, windows with sentence-hash splits;
2. training of SimpleConv with the CLIP loss through the shared :class:`~biocl.train.Trainer`,
   early stopping on validation top-10 segment accuracy, best checkpoint kept;
3. segment identification on the test sentences (:mod:`biocl.pipelines.brain_speech.evaluation`)
   for the deep model, the lagged ridge baseline, chance and, on simulated data, the
   oracle that knows the generative model; held-out subjects, when the protocol names
   some, through the shared subject layer;
4. report material (:mod:`biocl.pipelines.brain_speech.details`): flow, exclusions,
   disjointness, per-subject results with CIs, worst sentences, rank histogram, top-k
   curves, permutation test.

A finished run folder is loaded, re-scored and applied to new recordings by
:mod:`biocl.pipelines.brain_speech.decoder`.

The primary endpoint's resampling unit is the **subject**: per-subject top-10 accuracies,
weighted by their test windows, average exactly to the overall top-10, and the bootstrap
resamples subjects (few of them in the quick protocol, so the interval is wide).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from biocl.utils.console import info
from biocl.encoders.brain import SimpleConv
from biocl.evaluate.baselines import chance_metrics
from biocl.heads.losses import ClipLoss
from biocl.utils.io import write_json
from biocl.utils.seeding import seeded
from biocl.pipelines.brain_speech import evaluation
from biocl.pipelines.brain_speech.data import BrainSpeechData, prepare_data
from biocl.pipelines.brain_speech.details import run_details
from biocl.protocols.base import Protocol
from biocl.pipelines.runs import PipelineResult, RunContext

__all__ = ["BrainSpeechNet", "build_net", "train", "evaluate", "run", "DECODER_FILE"]

DECODER_FILE = "decoder.json"


class BrainSpeechNet(nn.Module):
    """The SimpleConv encoder and its CLIP loss: everything the trainer optimises.

    ``forward`` returns the encoder's output (B, F, T), or the loss when ``speech`` is given,
    so that a DistributedDataParallel wrapper sees the whole computation in one call.
    """

    def __init__(self, encoder: SimpleConv, loss: ClipLoss, mask_same_segment: bool = True):
        super().__init__()
        self.encoder = encoder
        self.loss = loss
        self.mask_same_segment = mask_same_segment

    def forward(self, brain: torch.Tensor, subjects: torch.Tensor, positions: torch.Tensor,
                position_mask: torch.Tensor, speech: torch.Tensor | None = None,
                speech_id: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        out = self.encoder(brain, subjects, positions, position_mask, generator=generator)
        if speech is None:
            return out
        ids = speech_id if self.mask_same_segment else None
        # The loss runs in float32 even under bf16 autocast: a softmax over many candidates.
        with torch.autocast(device_type=out.device.type, enabled=False):
            return self.loss(out.float().flatten(1), speech.float().flatten(1), candidate_ids=ids)


def build_net(protocol: Protocol, n_subjects: int, n_features: int) -> BrainSpeechNet:
    """The encoder and loss a protocol describes."""
    m, lo = protocol.model, protocol.loss
    encoder = SimpleConv(n_subjects=n_subjects, output_dim=n_features, n_heads=m.n_heads, hidden=m.hidden,
                         n_blocks=m.n_blocks, n_freqs=m.n_freqs, spatial_dropout_radius=m.spatial_dropout_radius,
                         unseen_subject=m.unseen_subject, unseen_subject_prob=m.unseen_subject_prob,
                         subject_layers=m.subject_layers, head_hidden=m.head_hidden)
    init = None if lo.init_temperature is None else float(np.log(1.0 / lo.init_temperature))
    loss = ClipLoss(normalize=lo.normalize, symmetric=lo.symmetric, learnable_scale=lo.learnable_temperature,
                    init_log_scale=init, gather=lo.gather)
    return BrainSpeechNet(encoder, loss, mask_same_segment=lo.mask_same_segment)


class _TrainBatches:
    """One epoch of training batches: shuffled by the epoch's generator, sharded by rank.

    ``batch_size`` is the global batch; each of ``world_size`` processes takes an equal
    share, and the last incomplete batch is dropped so every rank makes the same steps.
    """

    def __init__(self, bundle: BrainSpeechData, rows: np.ndarray, ctx: Any):
        self.bundle = bundle
        world = ctx.world_size
        local = max(ctx.batch_size // world, 1)
        order = ctx.generator.permutation(rows)
        n = order.size // (local * world)
        self.chunks = [order[b * local * world:(b + 1) * local * world][ctx.rank::world] for b in range(n)]

    def __len__(self) -> int:
        return len(self.chunks)

    def __iter__(self):
        for chunk in self.chunks:
            yield self.bundle.batch("train", chunk)


def _step(model: nn.Module, batch: dict[str, torch.Tensor], ctx: Any) -> tuple[torch.Tensor, dict[str, float]]:
    loss = model(batch["brain"], batch["subjects"], batch["positions"], batch["position_mask"],
                 batch["speech"], batch["speech_id"], generator=ctx.generator)
    return loss, {}


def train(protocol: Protocol, context: RunContext | None, bundle: BrainSpeechData) -> tuple[BrainSpeechNet, Any, Any]:
    """Train the net on the training subjects; returns (net holding the best weights, fit result, trainer)."""
    from biocl.evaluate.retrieval import top_k_accuracy, true_ranks
    from biocl.train import PhaseSpec, Trainer

    # Initial weights from the protocol's seed alone, whatever ran before in this process
    # (a simulation, or nothing when its output was cached); the global state is restored.
    with seeded(protocol.seed):
        net = build_net(protocol, len(bundle.subject_index), int(bundle.silence.size))
    trainer = Trainer(net, protocol.train, run=context, seed=protocol.seed)
    device, bf16 = trainer.device, protocol.train.bf16 and trainer.device.type == "cuda"
    normalize, ev = protocol.loss.normalize, protocol.evaluate
    train_rows, valid_rows = bundle.rows("train"), bundle.rows("valid")
    candidates, _, valid_true = evaluation.candidate_matrix(bundle, "valid", valid_rows, normalize)

    def validate(model: nn.Module) -> dict[str, float]:
        scores = evaluation.score_windows(evaluation.model_predictor(model, device, bf16), bundle, "valid", valid_rows, candidates,
                                 normalize=normalize, batch_size=ev.batch_size, device=device)
        ranks = true_ranks(scores, valid_true)
        return {"valid_top10": top_k_accuracy(ranks, 10), "valid_top1": top_k_accuracy(ranks, 1)}

    phases = [PhaseSpec(phase=phase, step=_step, batches=lambda ctx: _TrainBatches(bundle, train_rows, ctx),
                        validate=validate, monitor="valid_top10", mode="max") for phase in protocol.phases()]
    info(f"training SimpleConv on {train_rows.size} windows of {len(bundle.subject_index)} subjects "
         f"({valid_rows.size} validation windows, {candidates.shape[0]} candidates)")
    fit = trainer.fit(phases)
    return net, fit, trainer


def evaluate(protocol: Protocol, bundle: BrainSpeechData, net: BrainSpeechNet, device: torch.device,
             *, with_baselines: bool = True) -> dict[str, Any]:
    """Score the test windows: deep model, held-out subjects, ridge, oracle and chance.

    Returns
    -------
    dict
        ``metrics``, ``baselines``, and what the report needs (``ranks`` and ``baseline_ranks``, ``correct``,
        ``subjects``, ``rows``, ``n_candidates``, ``curves``, ``permutation_test``, and
        ``calibration``: the deep model's top-word probabilities on the test windows already
        scored, at the word metric's temperature).
    """
    ev, normalize = protocol.evaluate, protocol.loss.normalize
    bf16 = protocol.train.bf16 and device.type == "cuda"
    rows, held = bundle.rows("test"), bundle.rows("test", heldout=True)
    every = np.concatenate([rows, held])
    candidates, reps, true_every = evaluation.candidate_matrix(bundle, "test", every, normalize)
    true_index, true_held = true_every[:rows.size], true_every[rows.size:]
    words = bundle.tables["test"].word[every[reps]]
    ks, k_main = sorted(set(ev.ks) | {10}), 10
    predict = evaluation.model_predictor(net.to(device), device, bf16)
    # Each decoder's scoring rule and word-metric temperature are chosen on validation.
    deep = evaluation.choose_scoring(bundle, normalize, ev.scoring_rules, predict, batch_size=ev.batch_size,
                                     device=device)
    scoring = {"deep model": deep}
    scores = evaluation.score_windows(predict, bundle, "test", rows, candidates, normalize=normalize,
                                      batch_size=ev.batch_size, device=device, rule=deep["rule"])
    metrics, ranks = evaluation.identification(scores, true_index, words, ks, ev.word_k, deep["temperature"])
    metrics.update({"chance_top1": 1.0 / len(words), f"chance_top{k_main}": min(k_main, len(words)) / len(words),
                    "n_candidates": float(len(words)), "n_test_windows": float(rows.size)})
    out: dict[str, Any] = {"metrics": metrics, "baselines": {}, "baseline_ranks": {}, "ranks": ranks, "rows": rows,
                           "curves": {"deep model": evaluation.top_k_series(ranks, ev.curve_max_k)},
                           "n_candidates": len(words), "scoring": scoring,
                           "calibration": [evaluation.word_calibration(scores, true_index, words,
                                                                       deep["temperature"])]}
    if held.size:
        held_scores = evaluation.score_windows(predict, bundle, "test", held, candidates, normalize=normalize,
                                               batch_size=ev.batch_size, device=device, rule=deep["rule"])
        held_metrics, held_ranks = evaluation.identification(held_scores, true_held, words, ks, ev.word_k,
                                                             deep["temperature"])
        metrics.update({f"heldout_{k}": v for k, v in held_metrics.items()})
        out["heldout"] = {"ranks": held_ranks, "subjects": evaluation.subject_rows(bundle, "test", held)}
    out["permutation_test"] = evaluation.permutation_test(scores, true_index, k_main, ev.permutations, protocol.seed)
    out["baselines"]["chance"] = chance_metrics(true_index, words, ks, ev.word_k)
    out["curves"]["chance"] = [min(k, len(words)) / len(words) for k in range(1, ev.curve_max_k + 1)]
    if with_baselines and ev.ridge:
        info("fitting the ridge baseline")
        models = evaluation.fit_ridge(bundle, ev)
        info("ridge penalties chosen by grouped cross-validation: "
             + ", ".join(f"{model.alpha_:g}" for model in models.values()))
        ridge_valid = evaluation.ridge_predictor(bundle, models, ev, "valid")
        ridge = evaluation.choose_scoring(bundle, normalize, ev.scoring_rules, ridge_valid, batch_size=ev.batch_size)
        scoring["ridge"] = ridge
        info(f"ridge scored by {ridge['rule']} (validation top-10: "
             + ", ".join(f"{rule} {value:.3f}" for rule, value in ridge["valid_top10"].items()) + ")")
        ridge_scores = evaluation.score_windows(evaluation.ridge_predictor(bundle, models, ev, "test"), bundle, "test",
                                                rows, candidates.cpu(), normalize=normalize, batch_size=ev.batch_size,
                                                device=torch.device("cpu"), rule=ridge["rule"])
        out["baselines"]["ridge"], ridge_ranks = evaluation.identification(ridge_scores, true_index, words, ks,
                                                                           ev.word_k, ridge["temperature"])
        out["baseline_ranks"]["ridge"] = ridge_ranks
        out["curves"]["ridge"] = evaluation.top_k_series(ridge_ranks, ev.curve_max_k)
    if with_baselines and ev.oracle and bundle.simulation is not None:
        info("scoring the oracle")
        oracle = evaluation.oracle_window_scores(bundle, "test", rows, reps)
        oracle_t = evaluation.oracle_temperature(bundle)
        out["baselines"]["oracle"], oracle_ranks = evaluation.identification(oracle, true_index, words, ks,
                                                                             ev.word_k, oracle_t)
        out["baseline_ranks"]["oracle"] = oracle_ranks
        out["curves"]["oracle"] = evaluation.top_k_series(oracle_ranks, ev.curve_max_k)
    return out


def _save_decoder(context: RunContext, protocol: Protocol, bundle: BrainSpeechData, checkpoint: Path,
                  scoring_rule: str) -> None:
    """What ``biocl decode predict`` needs besides the weights: subjects, feature statistics, sizes, scoring."""
    write_json(context.checkpoint_dir / DECODER_FILE, {
        "checkpoint": checkpoint.name, "subjects": bundle.subject_index, "n_features": int(bundle.silence.size),
        "scoring_rule": scoring_rule,
        "feature_stats": bundle.feature_stats, "silence": bundle.silence.tolist(),
        "protocol": "protocol.resolved.yaml",
        # Relative paths of the protocol (a checkpoint folder, a BIDS root) resolve against its folder.
        "protocol_source": str(protocol.source_path) if protocol.source_path else None})


def run(protocol: Protocol, context: RunContext) -> PipelineResult:
    """Run a brain-to-speech protocol (see the module docstring)."""
    bundle = prepare_data(protocol, context.cache_dir)
    net, fit, trainer = train(protocol, context, bundle)
    checkpoint = fit.best.get(protocol.phases()[-1].name) or fit.last
    result = evaluate(protocol, bundle, net, trainer.device)
    if context.is_main and checkpoint is not None:
        _save_decoder(context, protocol, bundle, Path(checkpoint), result["scoring"]["deep model"]["rule"])
    metrics, baselines = result["metrics"], result["baselines"]
    ranks, rows = result["ranks"], result["rows"]
    correct = ranks < 10
    subjects = evaluation.subject_rows(bundle, "test", rows)
    per_subject = evaluation.subject_table(subjects, correct, protocol.acceptance.ci_seed, protocol.acceptance.ci_resamples)
    details = run_details(protocol, bundle, net, result, per_subject, correct, checkpoint, fit, trainer.device)
    details["metric_intervals"] = {name: {"top10": evaluation.subject_interval(subjects, baseline_ranks < 10,
                                                                               protocol.acceptance)}
                                   for name, baseline_ranks in result["baseline_ranks"].items()}
    return PipelineResult(metrics=metrics, baselines=baselines, data=bundle.provenance,
                          primary_unit_values=[row["value"] for row in per_subject],
                          primary_unit_weights=[float(row["n"]) for row in per_subject],
                          primary_unit_ids=[row["group"] for row in per_subject], details=details)
