"""The ``data``, ``model``, ``loss`` and ``evaluate`` sections of an audio temporal post-training protocol.

Defaults follow TeminAL / ZSTE (Sinha et al. 2024) where the paper fixes a
value (bare "A before B" captions, no gap, "this is a sound of <class>" prompts, 50
task-4 candidates) and are sized for 2 CPU cores elsewhere. Every step can be changed
from the protocol file or with ``--set section.key=value``. This module imports nothing
heavy: the protocol loader reads it to validate files.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from biocl.utils.templates import template_problem
from biocl.protocols.base import Section, Seed, register_sections

__all__ = [
    "SECTIONS",
    "AudioSimulation",
    "CaptionTemplates",
    "AudioTemporalData",
    "AudioEncoderSection",
    "TextEncoderSection",
    "AudioTemporalModel",
    "AudioTemporalLoss",
    "AudioTemporalEvaluate",
    "PHASE_NAMES",
    "PAPER_TRAINABLE",
    "MONITORABLE",
]

# The phases the pipeline knows, by name, in the order they may appear.
PHASE_NAMES = ("pretrain", "temin_a", "temin_b")
# A ``trainable`` entry that stands for the model's paper_trainable() prefixes.
PAPER_TRAINABLE = "@paper"
# Validation metrics a phase may monitor (ZSTE tasks on the validation pairs and clips, and their mean).
MONITORABLE = ("zste_task1", "zste_task2", "zste_task3", "zste_task4", "zste_task5", "zste_mean")
FSDD_PATTERN = r"^(?P<label>\d+)_(?P<group>[A-Za-z]+)_(?P<index>\d+)$"


class AudioSimulation(Section):
    """Arguments of :func:`biocl.data.audio.simulate.simulate_sound_events` (``source: simulate``)."""

    n_classes: int = Field(default=10, ge=2, le=12)
    clips_per_class: int = Field(default=30, ge=4)
    clip_s: float = Field(default=1.0, gt=0)
    sample_rate_hz: int = Field(default=16000, ge=8000)
    seed: Seed | None = Field(default=None, description="defaults to the protocol seed")


class CaptionTemplates(Section):
    """Caption templates; ``{a}`` and ``{b}`` are class names.

    ``single`` captions single clips in pretraining and is the zero-shot prompt of ZSTE
    tasks 1 and 2; ``before`` / ``overlap`` caption joins and overlays (tasks 3, 4 and
    TeminAL B); ``first`` / ``second`` are task 5's prompts; ``temin_single`` /
    ``temin_combined`` are TeminAL A's captions.
    """

    single: str = "this is a sound of {a}"
    before: str = "{a} before {b}"
    overlap: str = "{a} while {b}"
    first: str = "the first sound is {a}"
    second: str = "the second sound is {a}"
    temin_single: str = "single sound of {a}"
    temin_combined: str = "combined sound of {a} and {b}"

    @field_validator("single", "first", "second", "temin_single")
    @classmethod
    def _one_placeholder(cls, value: str) -> str:
        problem = template_problem(value, ("a",))
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("before", "overlap", "temin_combined")
    @classmethod
    def _two_placeholders(cls, value: str) -> str:
        problem = template_problem(value, ("a", "b"))
        if problem:
            raise ValueError(problem)
        return value


class AudioTemporalData(Section):
    """Which sounds, how they are read, split, composed and captioned.

    ``source`` is ``simulate`` (the embedded default: synthetic sound events written in the
    ESC-50 layout), or a real data set: ``esc50`` (a folder), ``manifest`` (a CSV of
    ``path,caption`` / ``path,label``), ``labelled_names`` (a folder of files whose
    names carry the label, FSDD by default) or ``folders`` (one sub-folder per class:
    ``sounds/dog/*.wav``). Clips are split into pretraining and
    evaluation clips per class; unordered class pairs are split into post-training pairs
    and held-out evaluation pairs, which are never composed during training.
    """

    source: Literal["simulate", "esc50", "manifest", "labelled_names", "folders"] = "simulate"
    root: str | None = Field(default=None, description="data set folder or manifest; for simulate, where to write "
                                                       "(default: the cache folder)")
    simulation: AudioSimulation = Field(default_factory=AudioSimulation)
    description: str = Field(default="", description="what the data is, for the report")
    citation: str = Field(default="", description="where the data comes from")
    licence: str = ""
    # Reading (biocl.data.audio.reading).
    sample_rate_hz: int = Field(default=16000, ge=4000)
    pattern: str = Field(default=FSDD_PATTERN, description="labelled_names: regex with (?P<label>) and (?P<group>)")
    label_names: dict[str, str] = Field(default_factory=dict, description="raw label -> name used in captions")
    classes: list[str] | None = Field(default=None, description="use only these labels (after label_names)")
    max_clips_per_label: int | None = Field(default=None, ge=2)
    on_bad: Literal["exclude", "error"] = "exclude"
    silence_dbfs: float = -60.0
    min_duration_s: float = Field(default=0.0, ge=0)
    # Length policy and compositions (biocl.data.audio.compose).
    clip_s: float = Field(default=1.0, gt=0, description="every single clip is padded or trimmed to this, s")
    align: Literal["start", "center"] = "center"
    gap_s: float = Field(default=0.0, ge=0, description="silence between the two sounds of a join, s")
    level_match: bool = True
    # Splits.
    test_fraction: float = Field(default=0.34, gt=0, lt=1, description="clips per class kept for evaluation")
    test_groups: list[str] | None = Field(default=None, description="evaluate on these groups (speakers, folds) "
                                                                    "instead of a random fraction")
    val_fraction: float = Field(default=0.17, gt=0, lt=1, description=(
        "clips per class kept for validation (early stopping, tuned choices), taken from the clips that are not "
        "test clips"))
    val_groups: list[str] | None = Field(default=None, description="validate on these groups instead of a random "
                                                                   "fraction (with test_groups)")
    eval_pair_fraction: float = Field(default=0.34, gt=0, lt=1, description="class pairs held out for the test")
    val_pair_fraction: float = Field(default=0.17, gt=0, lt=1, description=(
        "class pairs held out for validation, apart from the test pairs and never composed in post-training"))
    eval_instances_per_pair: int = Field(default=4, ge=1)
    train_rounds_per_epoch: int = Field(default=8, ge=1, description="passes over the post-training pairs per epoch")
    captions: CaptionTemplates = Field(default_factory=CaptionTemplates)

    @model_validator(mode="after")
    def _consistent(self) -> AudioTemporalData:
        if self.source != "simulate" and not self.root:
            raise ValueError(f"source {self.source!r} needs root (e.g. --set data.root=/path/to/data)")
        if self.test_fraction + self.val_fraction >= 1:
            raise ValueError(f"test_fraction + val_fraction is {self.test_fraction + self.val_fraction}; "
                             "it must stay below 1 so that clips are left for training")
        if self.eval_pair_fraction + self.val_pair_fraction >= 1:
            raise ValueError(f"eval_pair_fraction + val_pair_fraction is "
                             f"{self.eval_pair_fraction + self.val_pair_fraction}; it must stay below 1 so that "
                             "class pairs are left for post-training")
        overlap = set(self.val_groups or []) & set(self.test_groups or [])
        if overlap:
            raise ValueError(f"groups {sorted(overlap)} are in both val_groups and test_groups")
        return self


class AudioEncoderSection(Section):
    """The compact audio encoder (:class:`biocl.encoders.audio.LogMelCNN`)."""

    n_mels: int = Field(default=48, ge=8)
    n_fft: int = Field(default=512, ge=32)
    hop_length: int = Field(default=160, ge=8)
    channels: list[int] = Field(default_factory=lambda: [16, 32, 64], min_length=1)
    time_bins: int = Field(default=4, ge=1)
    hidden_dim: int = Field(default=128, ge=1)
    output_dim: int = Field(default=128, ge=1)


class TextEncoderSection(Section):
    """The order-aware text encoder (:class:`biocl.encoders.text.TextTransformer`)."""

    d_model: int = Field(default=64, ge=8)
    n_layers: int = Field(default=2, ge=1)
    n_heads: int = Field(default=4, ge=1)
    ff_dim: int = Field(default=128, ge=8)
    max_tokens: int = Field(default=16, ge=4)
    dropout: float = Field(default=0.0, ge=0, lt=1)


class AudioTemporalModel(Section):
    """The dual encoder: the compact biocl CLAP, or a pretrained Hugging Face CLAP from a local folder."""

    kind: Literal["compact", "hf_clap"] = "compact"
    pretrained_path: str | None = Field(default=None, description="hf_clap: a local save_pretrained folder")
    init_from: str | None = Field(default=None, description="start from a model folder biocl saved (a run's model/)")
    embed_dim: int = Field(default=64, ge=2)
    projection_hidden_dim: int | None = Field(default=None, ge=1)
    init_log_scale: float = Field(default=math.log(1 / 0.07), ge=0, le=math.log(100))
    audio: AudioEncoderSection = Field(default_factory=AudioEncoderSection)
    text: TextEncoderSection = Field(default_factory=TextEncoderSection)

    @model_validator(mode="after")
    def _consistent(self) -> AudioTemporalModel:
        if self.kind == "hf_clap" and not self.pretrained_path:
            raise ValueError("kind 'hf_clap' needs pretrained_path, a local Hugging Face CLAP folder")
        return self


class AudioTemporalLoss(Section):
    """Losses: symmetric CLIP for pretraining and TeminAL A, TNCE for TeminAL B, optional replay.

    ``a_same`` and ``a_cross`` weigh a clip's own reversed caption and the other ordered
    captions in the TNCE denominator (:func:`biocl.heads.functional.tnce_loss`).
    """

    a_same: float = Field(default=1.0, ge=0)
    a_cross: float = Field(default=0.25, ge=0)
    symmetric: bool = True
    mask_duplicate_captions: bool = Field(default=True, description="a caption repeated in a batch is not a negative")
    replay_weight: float = Field(default=0.0, ge=0, description=(
        "post-training phases add this weight times the pretraining CLIP loss on a batch of single clips with "
        "their zero-shot captions (0: the paper, which lets zero-shot classification drop)"))


class AudioTemporalEvaluate(Section):
    """ZSTE, CompA-order, zero-shot classification and retrieval settings.

    ``monitor`` names, per phase, the ZSTE metric scored on the *validation* pairs and clips
    after every epoch that picks the phase's best epoch (and stops it early with
    ``train.early_stopping_patience``); a phase not named keeps its last epoch. The test
    pairs are scored once, after training.
    """

    n_task4_candidates: int = Field(default=50, ge=2)
    n_permutations: int = Field(default=1000, ge=10)
    n_worst_cases: int = Field(default=10, ge=1)
    batch_size: int = Field(default=64, ge=1)
    monitor: dict[str, str] = Field(default_factory=lambda: {"pretrain": "zste_task1", "temin_b": "zste_task3"})
    teminal_a_only_baseline: bool = Field(default=True, description=(
        "also post-train, from the same pretrained model, a baseline with the plain CLIP loss on the same pairs, "
        "compositions and captions, without reversed hard negatives, and score it on the test pairs"))

    @field_validator("monitor")
    @classmethod
    def _known_monitor(cls, value: dict[str, str]) -> dict[str, str]:
        for phase, metric in value.items():
            if phase not in PHASE_NAMES:
                raise ValueError(f"monitor names unknown phase {phase!r} (phases: {', '.join(PHASE_NAMES)})")
            if metric not in MONITORABLE:
                raise ValueError(f"monitor metric {metric!r} is not one of {', '.join(MONITORABLE)}")
        return value


SECTIONS = register_sections("audio_temporal", data=AudioTemporalData, model=AudioTemporalModel, loss=AudioTemporalLoss,
                  evaluate=AudioTemporalEvaluate, phase_names=PHASE_NAMES,
                  phase_losses=("clip", "tnce"))
