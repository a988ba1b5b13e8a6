"""The audio pipeline's data: sounds read (or simulated), fitted to length, split, and the held-out items.

Clips are split per class into training, validation and test clips, and the unordered
class *pairs* into post-training pairs, validation pairs and test pairs; validation and
test pairs are never composed during training (asserted). The test compositions (joins
and overlays of test clips on test pairs) and the validation compositions (validation
clips on validation pairs) are drawn once, from the protocol's seed. Every tuned choice
(epochs, early stopping, the protocol's settings) reads the validation items only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from biocl.data.audio.compose import compose
from biocl.data.audio.reading import AudioDataset, fit_length, load_audio_dataset
from biocl.data.audio.simulate import SOUND_CLASSES, simulate_sound_events, simulation_summary
from biocl.evaluate.zste import ZsteSet
from biocl.protocols.base import Protocol
from biocl.train.distributed import main_process_first
from biocl.utils.cache import default_cache_dir
from biocl.utils.console import info
from biocl.utils.errors import BioclError
from biocl.utils.templates import fill_template

__all__ = ["PreparedData", "prepare_data"]


@dataclass
class PreparedData:
    """Clips fitted to length, split by clip and by class pair, and the test and validation items.

    ``items`` (test clips composed on the test pairs) are scored once, after training;
    ``val_items`` (validation clips on the validation pairs) choose epochs and settings.
    ``item_clips`` names the two clip files (relative to the data set's root) of each test
    item, clip A then clip B, in the order of ``items.pair_ids``.
    """

    dataset: AudioDataset
    class_names: list[str]
    train_clips: dict[int, np.ndarray]
    val_clips: dict[int, np.ndarray]
    test_clips: dict[int, np.ndarray]
    train_pairs: list[tuple[int, int]]
    val_pairs: list[tuple[int, int]]
    eval_pairs: list[tuple[int, int]]
    items: ZsteSet
    val_items: ZsteSet
    clip_samples: int
    gap_samples: int
    provenance: dict[str, Any]
    item_clips: list[tuple[str, str]] = field(default_factory=list)

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
    train, val, test, test_names = _split_clips(by_class, names, protocol, clip_samples, root)
    train_pairs, val_pairs, eval_pairs = _split_pairs(len(names), protocol)
    gap = int(round(data.gap_s * rate))
    items, item_clips = _evaluation_items(names, test, eval_pairs, data.eval_instances_per_pair, gap,
                                          data.level_match, np.random.default_rng([protocol.seed, 3]), test_names)
    val_items, _ = _evaluation_items(names, val, val_pairs, data.eval_instances_per_pair, gap, data.level_match,
                                     np.random.default_rng([protocol.seed, 4]))
    return PreparedData(dataset=dataset, class_names=names, train_clips=train, val_clips=val, test_clips=test,
                        train_pairs=train_pairs, val_pairs=val_pairs, eval_pairs=eval_pairs, items=items,
                        val_items=val_items, clip_samples=clip_samples, gap_samples=gap, provenance=provenance,
                        item_clips=item_clips)


def _split_clips(by_class: dict[int, list], names: list[str], protocol: Protocol, clip_samples: int, root: Path
                 ) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, np.ndarray],
                            dict[int, list[str]]]:
    """Each class's clips, fitted to length, split into training, validation and test clips.

    The test clips are drawn first, exactly as before validation existed (same seed, same
    clips); the validation clips come from the rest. The last value names each test clip's
    file (relative to ``root`` where it lies inside), in the order of the test clips.
    """
    data = protocol.data
    rng = np.random.default_rng([protocol.seed, 1])
    val_rng = np.random.default_rng([protocol.seed, 5])
    splits: tuple[dict[int, np.ndarray], ...] = ({}, {}, {})
    test_names: dict[int, list[str]] = {}
    for k, clips in by_class.items():
        if data.test_groups is not None:
            role = np.array([2 if c.group in data.test_groups else 0 for c in clips])
        else:
            order = rng.permutation(len(clips))
            role = np.zeros(len(clips), dtype=int)
            role[order[:max(1, int(round(data.test_fraction * len(clips))))]] = 2
        if data.val_groups is not None:
            role[[i for i, c in enumerate(clips) if c.group in data.val_groups and role[i] == 0]] = 1
        else:
            rest = np.flatnonzero(role == 0)
            n_val = max(1, int(round(data.val_fraction * len(clips))))
            role[val_rng.permutation(rest)[:n_val]] = 1
        fitted = [fit_length(c.waveform, clip_samples, align=data.align) for c in clips]
        for split, out in enumerate(splits):
            out[k] = np.array([w for w, r in zip(fitted, role) if r == split], dtype=np.float32).reshape(
                -1, clip_samples)
        test_names[k] = [_clip_name(c.path, root) for c, r in zip(clips, role) if r == 2]
        if min(len(out[k]) for out in splits) == 0:
            raise BioclError(f"class {names[k]!r} has {len(splits[0][k])} training, {len(splits[1][k])} validation "
                             f"and {len(splits[2][k])} test clips; it needs at least one of each", path=root,
                             hint="adjust data.test_fraction / val_fraction or test_groups / val_groups")
    return (*splits, test_names)


def _clip_name(path: Path, root: Path) -> str:
    """A clip file as a reader finds it: relative to the data set's root, else its name."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def _split_pairs(n_classes: int, protocol: Protocol
                 ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]]:
    """Unordered class pairs split into post-training, validation and test pairs (test drawn first)."""
    data = protocol.data
    pairs = list(combinations(range(n_classes), 2))
    order = np.random.default_rng([protocol.seed, 2]).permutation(len(pairs))
    n_eval = max(1, int(round(data.eval_pair_fraction * len(pairs))))
    n_val = max(1, int(round(data.val_pair_fraction * len(pairs))))
    if n_eval + n_val >= len(pairs):
        raise BioclError(f"{n_classes} classes give {len(pairs)} class pairs: too few for {n_eval} test, {n_val} "
                         "validation and at least one post-training pair", path=protocol.source_path,
                         hint="use more classes or lower data.eval_pair_fraction / val_pair_fraction")
    eval_pairs = sorted(pairs[i] for i in order[:n_eval])
    val_pairs = sorted(pairs[i] for i in order[n_eval:n_eval + n_val])
    train_pairs = sorted(pairs[i] for i in order[n_eval + n_val:])
    assert not (set(eval_pairs) | set(val_pairs)) & set(train_pairs), "held-out class pairs leaked into post-training"
    return train_pairs, val_pairs, eval_pairs


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
                      instances: int, gap: int, level_match: bool, rng: np.random.Generator,
                      clip_names: dict[int, list[str]] | None = None) -> tuple[ZsteSet, list[tuple[str, str]]]:
    """The held-out compositions: ``instances`` joins and overlays per pair, whole clips, fixed once.

    Also returns the file names (``clip_names``) of clip A and clip B of every item (empty
    without ``clip_names``).
    """
    singles = np.concatenate([test[k] for k in range(len(names))])
    labels = np.concatenate([np.full(len(test[k]), k) for k in range(len(names))])
    pair_classes, forward, reverse, overlay, ids, files = [], [], [], [], [], []
    for x, y in eval_pairs:
        for instance in range(instances):
            a, b = (x, y) if rng.random() < 0.5 else (y, x)
            index_a, index_b = rng.integers(len(test[a])), rng.integers(len(test[b]))
            clip_a, clip_b = test[a][index_a], test[b][index_b]
            if clip_names is not None:
                files.append((clip_names[a][index_a], clip_names[b][index_b]))
            pair_classes.append((a, b))
            forward.append(compose(clip_a, clip_b, "forward", gap_samples=gap))
            reverse.append(compose(clip_a, clip_b, "reversed", gap_samples=gap))
            overlay.append(compose(clip_a, clip_b, "overlay", level_match=level_match))
            ids.append(f"{names[a]}|{names[b]}#{instance}")
    return ZsteSet(class_names=names, singles=singles, single_labels=labels, pair_classes=np.array(pair_classes),
                   forward=np.stack(forward), reversed=np.stack(reverse), overlay=np.stack(overlay),
                   pair_ids=ids), files
