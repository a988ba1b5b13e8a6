"""Training batches of the three phases, drawn from the trainer's numpy Generator (deterministic).

``pretrain``: single clips with their zero-shot captions. ``temin_a``: each post-training
pair's first clip and its forward join, single- vs combined-sound captions in one grid.
``temin_b``: forward, reversed and overlaid versions of each pair in one 3N x 3N grid, with
the index of each join's reverse for the TNCE loss. ``temporal_clip``: the same
compositions and captions without a pair's reversed join in its batch (the TeminAL-A-alone
baseline, plain CLIP loss). With ``loss.replay_weight`` > 0 the
post-training batches carry single clips too, so zero-shot classification is not forgotten.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from biocl.data.audio.compose import compose
from biocl.pipelines.audio_temporal.data import PreparedData
from biocl.protocols.base import Protocol
from biocl.utils.templates import fill_template

__all__ = ["PhaseBatches"]


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


class PhaseBatches:
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

    def temporal_clip(self, ctx: Any) -> list[dict[str, Any]]:
        """The TeminAL-A-alone baseline's temporal batches: TeminAL B's compositions and captions, no hard negatives.

        Each pair of a batch appears once, as the join in the orientation drawn for it (so
        both orientations are seen over the rounds, as in TeminAL B) and as its overlay,
        captioned "a before b" / "a while b"; its own reversed join is never in the same
        batch. Scored with the plain CLIP loss, this is a model trained as long, on the same
        compositions and words, as the TNCE model, without what TNCE adds.
        """
        names, c, gap = self.prep.class_names, self.data.captions, self.prep.gap_samples
        return self._with_replay([
            self._batch([np.stack([compose(x, y, "forward", gap_samples=gap) for x, y, _, _ in items]),
                         np.stack([compose(x, y, "overlay", level_match=self.data.level_match)
                                   for x, y, _, _ in items])],
                        [fill_template(c.before, names[a], names[b]) for _, _, a, b in items]
                        + [fill_template(c.overlap, names[a], names[b]) for _, _, a, b in items])
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
