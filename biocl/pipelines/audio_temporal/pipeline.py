"""Temporal post-training of an audio-language model: pretraining, TeminAL A and B, ZSTE before and after.

The run (REFERENCE §3, with the authors' flaws fixed):

1. read the sounds (simulated in the ESC-50 layout by default, or a real data set), fit every
   clip to ``clip_s`` (pad or trim, deterministic), split clips per class into training and
   evaluation clips, and split the unordered class *pairs* into post-training pairs and
   held-out evaluation pairs, which are never composed during training (asserted);
2. ``pretrain``: symmetric CLIP loss on (single clip, "this is a sound of <class>") pairs;
3. ``temin_a``: single-sound vs combined-sound captions in one 2N x 2N grid (CLIP loss);
4. ``temin_b``: forward, reversed and overlapped versions of N pairs in one 3N x 3N grid
   with the TNCE loss, training only the layers the protocol names;
5. every metric (ZSTE 1-5, CompA-order, retrieval) on the held-out pairs before
   post-training (after ``pretrain``) and after it, side by side.

The primary endpoint is ZSTE task 3 after post-training; its resampling unit is the
composed clip (a forward or reversed join), whose 0/1 correctness is the unit value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from biocl.utils.console import info
from biocl.data.audio.reading import AudioDataset, fit_length, load_audio_dataset
from biocl.data.audio.compose import compose
from biocl.utils.templates import fill_template
from biocl.data.audio.simulate import SOUND_CLASSES, simulate_sound_events, simulation_summary
from biocl.utils.cache import default_cache_dir
from biocl.utils.errors import BioclError
from biocl.evaluate.stats import bootstrap_ci, permutation_pvalue
from biocl.evaluate.zste import CHANCE, ZsteResult, ZsteSet, ZsteTemplates, evaluate_zste
from biocl.heads.losses import ClipLoss, TNCELoss
from biocl.utils.io import sha256_files
from biocl.utils.seeding import seeded_torch
from biocl.protocols.audio_temporal import PAPER_TRAINABLE, PHASE_NAMES
from biocl.protocols.base import Phase, Protocol
from biocl.pipelines.runs import PipelineResult, RunContext
from biocl.train.distributed import main_process_first

__all__ = ["PreparedData", "prepare_data", "build_model", "evaluate_model", "run"]

_DEFAULT_LOSS = {"pretrain": "clip", "temin_a": "clip", "temin_b": "tnce"}
_BAR_METRICS = ("zste_task1", "zste_task2", "zste_task3", "zste_task4", "zste_task5", "compa_text", "compa_audio",
                "compa_group")
_RETRIEVAL = tuple(f"retrieval_{d}_{k}" for d in ("a2t", "t2a") for k in ("r1", "r5", "r10", "map10"))


@dataclass
class PreparedData:
    """Clips fitted to length, split by clip and by class pair, and the evaluation items."""

    dataset: AudioDataset
    class_names: list[str]
    train_clips: dict[int, np.ndarray]
    test_clips: dict[int, np.ndarray]
    train_pairs: list[tuple[int, int]]
    eval_pairs: list[tuple[int, int]]
    items: ZsteSet
    clip_samples: int
    gap_samples: int
    provenance: dict[str, Any]

    def vocabulary_captions(self, protocol: Protocol) -> list[str]:
        """Every caption the model may read: each template filled with every class name."""
        templates = protocol.data.captions.model_dump()
        names = self.class_names
        out = [fill_template(t, a) for t in templates.values() if "{b}" not in t for a in names]
        out += [fill_template(t, a, b) for t in templates.values() if "{b}" in t for a in names for b in names]
        return out


def prepare_data(protocol: Protocol, *, sample_rate_hz: int | None = None, cache_dir: str | Path | None = None
                 ) -> PreparedData:
    """Read (or simulate) the sounds and build the splits and evaluation items of ``protocol``.

    Parameters
    ----------
    protocol : Protocol
        An ``audio_temporal`` protocol.
    sample_rate_hz : int | None
        Read at this rate, Hz (a pretrained model's); default ``data.sample_rate_hz``.
    cache_dir : str | Path | None
        Where simulated data sets are written when ``data.root`` is not given (default
        ``$BIOCL_CACHE``, else ``.biocl_cache``, as for runs).

    Returns
    -------
    PreparedData
    """
    data = protocol.data
    rate = int(sample_rate_hz or data.sample_rate_hz)
    if cache_dir is None:
        cache_dir = default_cache_dir()
    with main_process_first():
        root, layout, provenance = _data_source(protocol, Path(cache_dir))
    dataset = load_audio_dataset(root, layout=layout, sample_rate_hz=rate, on_bad=data.on_bad,
                                 silence_dbfs=data.silence_dbfs, min_duration_s=data.min_duration_s,
                                 pattern=data.pattern, label_names=data.label_names,
                                 max_clips_per_label=data.max_clips_per_label)
    for clip in dataset.clips:
        clip.label = clip.label or clip.caption
    names = sorted(data.classes) if data.classes else dataset.labels
    unknown = sorted(set(names) - set(dataset.labels))
    if unknown:
        raise BioclError(f"data.classes names labels the data set lacks: {', '.join(unknown)}", path=root)
    if len(names) < 3:
        raise BioclError(f"temporal evaluation needs at least 3 classes, the data set has {len(names)}", path=root)
    clip_samples = int(round(data.clip_s * rate))
    by_class: dict[int, list] = {k: [c for c in dataset.clips if c.label == name] for k, name in enumerate(names)}
    rng = np.random.default_rng([protocol.seed, 1])
    train, test = {}, {}
    for k, clips in by_class.items():
        if data.test_groups is not None:
            held = [c.group in data.test_groups for c in clips]
        else:
            order = rng.permutation(len(clips))
            n_test = max(1, int(round(data.test_fraction * len(clips))))
            held = list(np.isin(np.arange(len(clips)), order[:n_test]))
        fitted = [fit_length(c.waveform, clip_samples, align=data.align) for c in clips]
        train[k] = np.array([w for w, h in zip(fitted, held) if not h], dtype=np.float32)
        test[k] = np.array([w for w, h in zip(fitted, held) if h], dtype=np.float32)
        if len(train[k]) == 0 or len(test[k]) == 0:
            raise BioclError(f"class {names[k]!r} has {len(train[k])} training and {len(test[k])} evaluation clips; "
                             "it needs at least one of each", path=root, hint="adjust data.test_fraction or test_groups")
    pairs = list(combinations(range(len(names)), 2))
    order = np.random.default_rng([protocol.seed, 2]).permutation(len(pairs))
    n_eval = min(max(1, int(round(data.eval_pair_fraction * len(pairs)))), len(pairs) - 1)
    eval_pairs = sorted(pairs[i] for i in order[:n_eval])
    train_pairs = sorted(pairs[i] for i in order[n_eval:])
    assert not set(eval_pairs) & set(train_pairs), "held-out class pairs leaked into post-training"
    gap = int(round(data.gap_s * rate))
    items = _evaluation_items(names, test, eval_pairs, data.eval_instances_per_pair, gap, data.level_match,
                              np.random.default_rng([protocol.seed, 3]))
    return PreparedData(dataset=dataset, class_names=names, train_clips=train, test_clips=test,
                        train_pairs=train_pairs, eval_pairs=eval_pairs, items=items, clip_samples=clip_samples,
                        gap_samples=gap, provenance=provenance)


def _data_source(protocol: Protocol, cache_dir: Path) -> tuple[Path, str, dict[str, Any]]:
    data = protocol.data
    if data.source != "simulate":
        root = protocol.resolve_path(data.root)
        return root, data.source, {"simulated": False, "description": data.description or f"{data.source} data set",
                                   "source": data.citation or str(root), "licence": data.licence, "path": str(root)}
    sim = data.simulation
    params = {**sim.model_dump(), "seed": protocol.seed if sim.seed is None else sim.seed,
              "caption_template": data.captions.single}
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    root = protocol.resolve_path(data.root) if data.root else cache_dir / f"audio_events_sim-{key}"
    summary = simulation_summary(root)
    if summary is None or any(summary.get(k) != v for k, v in params.items()) \
            or summary.get("classes") != list(SOUND_CLASSES)[:sim.n_classes]:
        info(f"[audio] simulating {sim.n_classes} sound classes x {sim.clips_per_class} clips into {root}")
        summary = simulate_sound_events(root, overwrite=True, **params)
    return root, "esc50", {"simulated": True, "description": summary["description"], "sha256": summary["sha256"],
                           "source": "biocl.data.audio.simulate (synthetic sound events, ESC-50 layout)",
                           "licence": "generated by biocl (BSD-3-Clause)", "path": str(root)}


def _evaluation_items(names: list[str], test: dict[int, np.ndarray], eval_pairs: list[tuple[int, int]],
                      instances: int, gap: int, level_match: bool, rng: np.random.Generator) -> ZsteSet:
    """The held-out compositions: ``instances`` joins and overlays per pair, whole clips, fixed once."""
    singles = np.concatenate([test[k] for k in range(len(names))])
    labels = np.concatenate([np.full(len(test[k]), k) for k in range(len(names))])
    pair_classes, forward, reverse, overlay, ids = [], [], [], [], []
    for x, y in eval_pairs:
        for instance in range(instances):
            a, b = (x, y) if rng.random() < 0.5 else (y, x)
            clip_a, clip_b = test[a][rng.integers(len(test[a]))], test[b][rng.integers(len(test[b]))]
            pair_classes.append((a, b))
            forward.append(compose(clip_a, clip_b, "forward", gap_samples=gap))
            reverse.append(compose(clip_a, clip_b, "reversed", gap_samples=gap))
            overlay.append(compose(clip_a, clip_b, "overlay", level_match=level_match))
            ids.append(f"{names[a]}|{names[b]}#{instance}")
    return ZsteSet(class_names=names, singles=singles, single_labels=labels, pair_classes=np.array(pair_classes),
                   forward=np.stack(forward), reversed=np.stack(reverse), overlay=np.stack(overlay), pair_ids=ids)


def build_model(protocol: Protocol, captions: list[str] | None = None) -> nn.Module:
    """The protocol's dual encoder: fresh (seeded), loaded from ``model.init_from``, or a pretrained HF CLAP."""
    from biocl.encoders.clap import CompactClap, HFClapAdapter, load_clap

    spec = protocol.model
    if spec.init_from:
        model = load_clap(protocol.resolve_path(spec.init_from))
        _check_vocabulary(model, captions or [], protocol)
        return model
    if spec.kind == "hf_clap":
        return HFClapAdapter(protocol.resolve_path(spec.pretrained_path))
    with seeded_torch(protocol.seed):
        return CompactClap.build(captions or [], sample_rate_hz=protocol.data.sample_rate_hz,
                                 audio=spec.audio.model_dump(), text=spec.text.model_dump(), embed_dim=spec.embed_dim,
                                 projection_hidden_dim=spec.projection_hidden_dim, init_log_scale=spec.init_log_scale)


def _check_vocabulary(model: nn.Module, captions: list[str], protocol: Protocol) -> None:
    tokenizer = getattr(model, "tokenizer", None)
    missing = tokenizer.unknown_words(captions) if tokenizer is not None else []
    if missing:
        raise BioclError(f"the model's vocabulary lacks the caption words {', '.join(missing[:8])}",
                         path=protocol.resolve_path(protocol.model.init_from or "."),
                         hint="post-train a model pretrained with the same classes and caption templates")


def evaluate_model(model: nn.Module, prepared: PreparedData, protocol: Protocol) -> ZsteResult:
    """Every ZSTE task, CompA-order and retrieval score of ``model`` on the held-out pairs."""
    c, ev = protocol.data.captions, protocol.evaluate
    templates = ZsteTemplates(single=c.single, before=c.before, while_=c.overlap, first=c.first, second=c.second)
    return evaluate_zste(lambda w: model.embed_audio(w, batch_size=ev.batch_size), model.embed_text,
                         model.log_scale_value(), prepared.items, templates,
                         n_task4_candidates=ev.n_task4_candidates, seed=protocol.seed)


class _Trainee(nn.Module):
    """The model plus its losses, which share the model's one logit scale (so DDP sees one forward)."""

    def __init__(self, clap: nn.Module, protocol: Protocol):
        super().__init__()
        loss = protocol.loss
        self.clap = clap
        self.clip = ClipLoss(normalize="both", symmetric=loss.symmetric, learnable_scale=True)
        self.tnce = TNCELoss(loss.a_same, loss.a_cross, learnable_scale=True, symmetric=loss.symmetric)
        self.clip.logit_scale = clap.logit_scale
        self.tnce.logit_scale = clap.logit_scale
        self.replay_weight = loss.replay_weight

    def forward(self, batch: dict[str, Any], loss: str) -> torch.Tensor:
        audio, text = self.clap(batch["audio"], batch["text"])
        if loss == "tnce":
            value = self.tnce(audio, text, batch["reverse_index"])
        else:
            value = self.clip(audio, text, candidate_ids=batch.get("caption_ids"))
        replay = batch.get("replay")
        if replay is not None:
            audio, text = self.clap(replay["audio"], replay["text"])
            value = value + self.replay_weight * self.clip(audio, text, candidate_ids=replay.get("caption_ids"))
        return value


def _caption_ids(captions: list[str]) -> torch.Tensor:
    first: dict[str, int] = {}
    return torch.tensor([first.setdefault(t, len(first)) for t in captions], dtype=torch.long)


def _chunks(order: np.ndarray, batch_size: int, rank: int, world: int) -> list[np.ndarray]:
    """Consecutive batches of ``order``, this rank's share of each, equal sizes on every rank."""
    out = []
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        chunk = chunk[:len(chunk) - len(chunk) % world]
        if len(chunk) >= 2 * world:
            out.append(chunk[rank::world])
    return out


class _Batches:
    """The batch functions of the three phases (numpy Generator from the trainer: deterministic)."""

    def __init__(self, model: nn.Module, prepared: PreparedData, protocol: Protocol):
        self.model, self.prep, self.data = model, prepared, protocol.data
        self.mask = protocol.loss.mask_duplicate_captions
        self.replay_weight = protocol.loss.replay_weight
        self.single = [(k, w) for k in sorted(prepared.train_clips) for w in prepared.train_clips[k]]

    def _batch(self, groups: list[np.ndarray], captions: list[str], **extra: Any) -> dict[str, Any]:
        batch = {"audio": [self.model.prepare_audio(g) for g in groups], "text": self.model.prepare_text(captions),
                 "caption_list": list(captions), **extra}
        if self.mask:
            batch["caption_ids"] = _caption_ids(captions)
        return batch

    def _singles(self, indices: np.ndarray) -> dict[str, Any]:
        names, template = self.prep.class_names, self.data.captions.single
        return self._batch([np.stack([self.single[i][1] for i in indices])],
                           [fill_template(template, names[self.single[i][0]]) for i in indices])

    def pretrain(self, ctx: Any) -> list[dict[str, Any]]:
        order = ctx.generator.permutation(len(self.single))
        return [self._singles(chunk) for chunk in _chunks(order, ctx.batch_size, ctx.rank, ctx.world_size)]

    def _with_replay(self, batches: list[dict[str, Any]], rows_per_pair: int, ctx: Any) -> list[dict[str, Any]]:
        """Add to each post-training batch as many single clips, with their zero-shot captions, as it has pairs."""
        if self.replay_weight <= 0:
            return batches
        for batch in batches:
            size = len(batch["caption_list"]) // rows_per_pair * ctx.world_size
            drawn = ctx.generator.choice(len(self.single), size=min(size, len(self.single)), replace=False)
            batch["replay"] = self._singles(drawn[ctx.rank::ctx.world_size])
        return batches

    def _pair_rounds(self, ctx: Any) -> list[list[tuple[np.ndarray, np.ndarray, int, int]]]:
        """Batches of distinct post-training pairs, each with a random orientation and random clips."""
        rng, pairs, clips = ctx.generator, self.prep.train_pairs, self.prep.train_clips
        batches = []
        for _ in range(self.data.train_rounds_per_epoch):
            for chunk in _chunks(rng.permutation(len(pairs)), ctx.batch_size, 0, 1):
                drawn = []
                for i in chunk:
                    a, b = pairs[i] if rng.random() < 0.5 else pairs[i][::-1]
                    drawn.append((clips[a][rng.integers(len(clips[a]))], clips[b][rng.integers(len(clips[b]))], a, b))
                keep = len(drawn) - len(drawn) % ctx.world_size
                batches.append(drawn[:keep][ctx.rank::ctx.world_size])
        return batches

    def temin_a(self, ctx: Any) -> list[dict[str, Any]]:
        names, c, gap = self.prep.class_names, self.data.captions, self.prep.gap_samples
        return self._with_replay([
            self._batch([np.stack([x for x, _, _, _ in items]),
                         np.stack([compose(x, y, "forward", gap_samples=gap) for x, y, _, _ in items])],
                        [fill_template(c.temin_single, names[a]) for _, _, a, _ in items]
                        + [fill_template(c.temin_combined, names[a], names[b]) for _, _, a, b in items])
            for items in self._pair_rounds(ctx) if len(items) >= 2], 2, ctx)

    def temin_b(self, ctx: Any) -> list[dict[str, Any]]:
        names, c, gap = self.prep.class_names, self.data.captions, self.prep.gap_samples
        out = []
        for items in self._pair_rounds(ctx):
            n = len(items)
            if n < 2:
                continue
            joins = [compose(x, y, "forward", gap_samples=gap) for x, y, _, _ in items]
            joins += [compose(x, y, "reversed", gap_samples=gap) for x, y, _, _ in items]
            overlays = [compose(x, y, "overlay", level_match=self.data.level_match) for x, y, _, _ in items]
            captions = ([fill_template(c.before, names[a], names[b]) for _, _, a, b in items]
                        + [fill_template(c.before, names[b], names[a]) for _, _, a, b in items]
                        + [fill_template(c.overlap, names[a], names[b]) for _, _, a, b in items])
            reverse = torch.tensor([*range(n, 2 * n), *range(n), *([-1] * n)], dtype=torch.long)
            batch = self._batch([np.stack(joins), np.stack(overlays)], captions, reverse_index=reverse)
            batch.pop("caption_ids", None)
            out.append(batch)
        return self._with_replay(out, 3, ctx)


def _phase_specs(protocol: Protocol, trainee: _Trainee, batches: _Batches) -> list[Any]:
    from biocl.train.trainer import PhaseSpec

    specs = []
    for phase in protocol.phases():
        if phase.name not in PHASE_NAMES:
            raise BioclError(f"unknown phase {phase.name!r}; the audio pipeline runs {', '.join(PHASE_NAMES)}",
                             path=protocol.source_path, hint="name train.phases after them")
        loss = phase.loss or _DEFAULT_LOSS[phase.name]
        if loss not in ("clip", "tnce"):
            raise BioclError(f"phase {phase.name!r}: unknown loss {loss!r} (use clip or tnce)", path=protocol.source_path)
        trainable = None
        if phase.trainable is not None:
            trainable = []
            for prefix in phase.trainable:
                names = trainee.clap.paper_trainable() if prefix == PAPER_TRAINABLE else [prefix]
                trainable += [f"clap.{name}" for name in names]
        step = _step_function(loss)
        specs.append(PhaseSpec(phase=Phase(**{**phase.model_dump(), "trainable": trainable}), step=step,
                               batches=getattr(batches, phase.name)))
    return specs


def _step_function(loss: str) -> Any:
    def step(model: nn.Module, batch: dict[str, Any], ctx: Any) -> tuple[torch.Tensor, dict[str, float]]:
        value = model(batch, loss)
        return value, {}
    return step


def run(protocol: Protocol, context: RunContext) -> PipelineResult:
    """Run an ``audio_temporal`` protocol; see the module docstring."""
    from biocl.utils.weights import load_weights
    from biocl.train.trainer import Trainer

    if protocol.model.init_from or protocol.model.kind == "hf_clap":
        model = build_model(protocol)
        prepared = prepare_data(protocol, sample_rate_hz=model.sample_rate_hz, cache_dir=context.cache_dir)
        _check_vocabulary(model, prepared.vocabulary_captions(protocol), protocol)
    else:
        prepared = prepare_data(protocol, cache_dir=context.cache_dir)
        model = build_model(protocol, prepared.vocabulary_captions(protocol))
    trainee = _Trainee(model, protocol)
    specs = _phase_specs(protocol, trainee, _Batches(model, prepared, protocol))
    trainer = Trainer(trainee, protocol.train, run=context, seed=protocol.seed)
    trained_before_posttraining = any(s.phase.name == "pretrain" and s.phase.epochs > 0 for s in specs)
    before = None if trained_before_posttraining else evaluate_model(model, prepared, protocol)
    fit = trainer.fit(specs)
    if before is None:
        final_state = {k: v.detach().clone() for k, v in trainee.state_dict().items()}
        load_weights(trainee, fit.best["pretrain"])
        before = evaluate_model(model, prepared, protocol)
        trainee.load_state_dict(final_state)
    after = evaluate_model(model, prepared, protocol)
    model_dir = context.run_dir / "model"
    sha = model.save(model_dir) if context.is_main else ""
    metrics = {}
    for name in before.metrics:
        metrics[f"{name}_before"] = before.metrics[name]
        metrics[f"{name}_after"] = after.metrics[name]
    metrics["zste_task1_change"] = after.metrics["zste_task1"] - before.metrics["zste_task1"]
    metrics["logit_scale_after"] = float(np.exp(model.log_scale_value()))
    units = after.per_item["task3"]
    unit_ids = [f"{pid}:{kind}" for kind in ("forward", "reversed") for pid in prepared.items.pair_ids]
    details = _details(protocol, prepared, before, after, model=model, model_path=model_dir / "model.safetensors",
                       model_sha256=sha, fit=fit, device=trainer.device.type,
                       trainable={s.phase.name: s.phase.trainable or ["(all)"] for s in specs})
    # Keyed like the run's metrics: what each baseline scores on zste_task3_after and the rest.
    chance = {**CHANCE, "zste_task1": 1 / len(prepared.class_names),
              "zste_task4": 1 / min(protocol.evaluate.n_task4_candidates, _task4_pool_size(prepared))}
    baselines = {"before_post_training": {f"{k}_after": v for k, v in before.metrics.items()},
                 "chance": {f"{k}_after": v for k, v in chance.items()}}
    data = {k: v for k, v in prepared.provenance.items() if k != "path"}
    if "sha256" not in data:
        data["sha256"] = sha256_files(prepared.dataset.files(), root=prepared.dataset.root
                                      if prepared.dataset.root.is_dir() else prepared.dataset.root.parent)
    return PipelineResult(metrics=metrics, baselines=baselines, data=data, primary_unit_values=units.tolist(),
                          primary_unit_ids=unit_ids, details=details)


def _task4_pool_size(prep: PreparedData) -> int:
    c = len(prep.class_names)
    return c * (c - 1) + c * (c - 1) // 2


def _details(protocol: Protocol, prep: PreparedData, before: ZsteResult, after: ZsteResult, *, model: nn.Module,
             model_path: Path, model_sha256: str, fit: Any, device: str, trainable: dict[str, list[str]]
             ) -> dict[str, Any]:
    """The report material of ``results.json`` (docs/design.md)."""
    names, data, acceptance = prep.class_names, protocol.data, protocol.acceptance
    n_items = len(prep.items.pair_ids)
    n_pairs = len(prep.train_pairs) + len(prep.eval_pairs)
    count = [
        ("clips listed", prep.dataset.n_listed, "clip"), ("clips usable after exclusions", len(prep.dataset.clips), "clip"),
        ("classes", len(names), "class"),
        ("pretraining clips", sum(len(v) for v in prep.train_clips.values()), "clip"),
        ("evaluation clips (task 1)", sum(len(v) for v in prep.test_clips.values()), "clip"),
        ("unordered class pairs", n_pairs, "pair"), ("post-training class pairs", len(prep.train_pairs), "pair"),
        ("held-out evaluation class pairs", len(prep.eval_pairs), "pair"),
        ("post-training compositions per epoch (forward, reversed, overlay)",
         3 * len(prep.train_pairs) * data.train_rounds_per_epoch, "composition"),
        ("evaluation compositions (forward, reversed, overlay)", 3 * n_items, "composition"),
        ("task 3 items (forward and reversed joins)", 2 * n_items, "clip"),
    ]
    leaked = set(prep.eval_pairs) & set(prep.train_pairs)
    if leaked:
        raise AssertionError(f"held-out pairs {sorted(leaked)} were composed in post-training")
    metric_names = list(before.metrics)
    subgroups = [_per_class("zste_task1_after by class", after.per_item["task1"], prep.items.single_labels, names,
                            acceptance),
                 _per_class("zste_task3_after by class (pairs holding the class)", after.per_item["task3"],
                            np.concatenate([prep.items.pair_classes] * 2), names, acceptance)]
    predictions, truth = after.task3_predictions, after.task3_truth
    observed = float(np.mean(predictions == truth))
    p_value = permutation_pvalue(observed, lambda rng: float(np.mean(predictions == rng.permutation(truth))),
                                 n_permutations=protocol.evaluate.n_permutations, seed=protocol.seed)
    captions = after.example_captions
    rows = ["forward clip", "reversed clip", "overlay clip"]
    figures = [
        {"kind": "grouped_bar", "title": "ZSTE tasks and CompA-order scores before and after post-training "
                                         "(held-out class pairs)", "labels": list(_BAR_METRICS),
         "series": {"before": [before.metrics[m] for m in _BAR_METRICS],
                    "after": [after.metrics[m] for m in _BAR_METRICS]}, "ylabel": "accuracy"},
        {"kind": "grouped_bar", "title": "Retrieval of composed clips before and after post-training",
         "labels": list(_RETRIEVAL), "series": {"before": [before.metrics[m] for m in _RETRIEVAL],
                                                "after": [after.metrics[m] for m in _RETRIEVAL]}, "ylabel": "score"},
        {"kind": "heatmap", "title": f"Scaled similarity after post-training: {prep.items.pair_ids[0]}",
         "matrix": after.example_similarity.tolist(), "row_labels": rows, "col_labels": captions},
        {"kind": "heatmap", "title": f"Scaled similarity before post-training: {prep.items.pair_ids[0]}",
         "matrix": before.example_similarity.tolist(), "row_labels": rows, "col_labels": captions},
        {"kind": "bar", "title": "Zero-shot classification (task 1) after post-training, per class",
         "labels": [r["group"] for r in subgroups[0]["rows"]], "values": [r["value"] for r in subgroups[0]["rows"]],
         "ci": [r["ci95"] for r in subgroups[0]["rows"]], "ylabel": "accuracy"},
    ]
    return {
        "flow": [{"stage": stage, "count": int(n), "unit": unit} for stage, n, unit in count],
        "exclusions": [{"reason": e["reason"], "count": e["count"], "unit": e["unit"]} for e in prep.dataset.exclusions],
        "disjointness": {"asserted": True, "description": (
            f"{len(prep.eval_pairs)} held-out class pairs ({', '.join(f'{names[a]}+{names[b]}' for a, b in prep.eval_pairs)}) "
            f"are never composed in post-training ({len(prep.train_pairs)} other pairs are); evaluation clips are "
            "disjoint from pretraining and post-training clips (split per class before anything is composed)")},
        "subgroups": subgroups,
        "worst_cases": _worst_pairs(after, prep, protocol.evaluate.n_worst_cases),
        "model": {"name": type(model).__name__, "parameters": int(sum(p.numel() for p in model.parameters())),
                  "spec": {**model.spec(), "trainable_per_phase": trainable,
                           "loss": protocol.loss.model_dump(), "logit_scale": float(np.exp(model.log_scale_value()))}},
        "checkpoint": {"path": str(model_path), "sha256": model_sha256},
        "permutation_test": {"metric": "zste_task3_after", "observed": observed, "p_value": p_value,
                             "n_permutations": protocol.evaluate.n_permutations,
                             "null": "caption labels of the task-3 items shuffled; predictions fixed"},
        "before_after": {m: {"before": before.metrics[m], "after": after.metrics[m]} for m in metric_names},
        "chance": {**CHANCE, "zste_task1": 1 / len(names),
                   "zste_task4": 1 / min(protocol.evaluate.n_task4_candidates, _task4_pool_size(prep))},
        "figures": figures,
        "device": device,
        "phases": [{"phase": r["phase"], "epoch": r["epoch"], "train_loss": r["train_loss"]} for r in fit.history],
    }


def _per_class(name: str, values: np.ndarray, classes: np.ndarray, names: list[str], acceptance: Any) -> dict[str, Any]:
    rows = []
    for k, label in enumerate(names):
        mask = np.any(classes == k, axis=1) if classes.ndim == 2 else classes == k
        v = values[mask]
        if v.size == 0:
            continue
        low, high = bootstrap_ci(v, n_resamples=acceptance.ci_resamples, seed=acceptance.ci_seed)
        rows.append({"group": label, "value": float(v.mean()), "ci95": [low, high], "n": int(v.size)})
    return {"name": name, "prespecified": name.split(" ")[0] in acceptance.prespecified_subgroups or
            name in acceptance.prespecified_subgroups, "metric": name.split(" ")[0], "rows": rows}


def _worst_pairs(result: ZsteResult, prep: PreparedData, n: int) -> list[dict[str, Any]]:
    """Held-out class pairs whose joins were most often misordered (task 3)."""
    names, pairs = prep.class_names, prep.items.pair_classes
    keys = [tuple(sorted(p)) for p in pairs] * 2
    captions = ("A before B", "B before A", "A while B")
    rows = []
    for key in sorted(set(keys)):
        idx = [i for i, k in enumerate(keys) if k == key]
        correct = result.per_item["task3"][idx]
        wrong = [captions[result.task3_predictions[i]] for i in idx if not correct[idx.index(i)]]
        detail = (f"{int(len(idx) - correct.sum())} of {len(idx)} joins misordered"
                  + (f"; most often chose '{max(set(wrong), key=wrong.count)}'" if wrong else ""))
        rows.append({"id": f"{names[key[0]]}+{names[key[1]]}", "value": float(correct.mean()), "detail": detail})
    return sorted(rows, key=lambda r: (r["value"], r["id"]))[:n]
