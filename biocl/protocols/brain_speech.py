"""The ``data``, ``model``, ``loss`` and ``evaluate`` sections of a brain-to-speech protocol.

Defaults are the paper's (Défossez et al. 2023, section "Model" and Table 2) wherever the paper fixes a
value; every step of preprocessing, the encoder's widths, the loss and the evaluation can
be changed from the protocol file or with ``--set section.key=value``. This module imports
nothing heavy: the protocol loader reads it to validate files.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from biocl.protocols.base import Section, register_sections

__all__ = [
    "SECTIONS", "MegSimulationConfig", "BrainSpeechData", "BrainSpeechModel", "BrainSpeechLoss", "BrainSpeechEvaluate",
]


class MegSimulationConfig(Section):
    """The simulated M/EEG data set: the argument of :func:`biocl.data.meg.simulate.dataset.simulate_meg_bids`.

    A protocol's ``data.simulation`` section is this config, handed to the simulator as it
    is; the simulation's seed is the protocol's ``seed``. The SNR, the noise shares and the
    generative model are explained in :mod:`biocl.data.meg.simulate.dataset`.
    """

    n_subjects: int = Field(default=4, ge=1, description="subjects")
    n_sessions: int = Field(default=1, ge=1,
                            description="sessions per subject; each hears every sentence again, in a new order")
    system: str = Field(default="KIT-157", description="sensor array: KIT-157, CTF-275 or EEG-64")
    duration_s: float = Field(default=240.0, gt=0, description="length of each recording, s")
    sfreq_hz: float = Field(default=600.0, gt=0,
                            description="sampling rate of the written recordings, Hz (120 or more)")
    snr_db: float = Field(default=-10.0, description="single-channel, single-window SNR below 60 Hz, dB")
    speech_dir: str | None = Field(
        default=None, description="real WAVs with word-timing JSONs (LibriVox style) as stimuli; procedural if None")
    line_freq_hz: float = Field(default=50.0, gt=0, description="power-line frequency, Hz")
    trf_strength: float = Field(default=1.0, description="RMS of the acoustic (TRF) part of the sources, relative")
    word_strength: float = Field(default=1.0, description="RMS of the word-evoked part of the sources, relative")
    subject_variability: float = Field(
        default=0.5, ge=0, description="spread of the TRF weights between subjects, relative to their shared part")
    n_words: int = Field(default=40, ge=1, description="vocabulary of the procedural speech, words")
    n_sentences: int | None = Field(
        default=None, ge=1, description="distinct procedural sentences; None: as many as fit in one recording")
    sentences_per_sound: int = Field(
        default=1, ge=1, description="consecutive sentences per stimulus file; above 1: story-length files "
                                     "(MEG-MASC style), 0.5 s between sentences")
    n_mel_bands: int = Field(default=8, ge=1, description="mel bands of the acoustic drive")
    n_random_sources: int = Field(default=4, ge=0,
                                  description="signal dipoles besides the bilateral auditory and temporal ones")
    n_background: int = Field(default=40, ge=0, description="background (1/f noise) dipoles")
    alpha_share: float = Field(default=0.15, ge=0, description="share of the noise variance below 60 Hz: alpha bursts")
    line_share: float = Field(default=0.05, ge=0, description="share of the noise variance below 60 Hz: line noise")
    white_share: float = Field(default=0.15, ge=0,
                               description="share of the noise variance below 60 Hz: white sensor noise")
    head_rotation_deg: float = Field(default=4.0, ge=0, description="s.d. of each subject's head rotation, degrees")
    head_translation_m: float = Field(default=0.004, ge=0, description="s.d. of each subject's head translation, m")
    task: str = Field(default="listen", description="BIDS task label")


class BrainSpeechData(Section):
    """Where the recordings come from, how they are windowed and which speech features to decode."""

    source: Literal["simulate", "bids"] = "simulate"
    bids_root: str | None = Field(default=None, description="a BIDS (or BIDS-like) data set; with source: bids")
    subjects: list[str] | None = None
    sessions: list[str] | None = None
    tasks: list[str] | None = None
    datatype: str | None = None
    montage: str | None = Field(default=None, description="an MNE standard montage (standard_1005, biosemi64, ...) "
                                "placing EEG channels the files store without positions")
    simulation: MegSimulationConfig = Field(default_factory=MegSimulationConfig)
    heldout_subjects: list[str] = Field(default_factory=list,
                                        description="left out of training; evaluated with the shared subject layer")
    # Preprocessing (biocl.data.meg.windows.WindowConfig).
    sfreq_hz: float = Field(default=120.0, gt=0)
    tmin_s: float = -0.5
    tmax_s: float = 2.5
    baseline_s: tuple[float, float] | None = (-0.5, 0.0)
    brain_shift_s: float = 0.15
    scaler: Literal["robust", "none"] = "robust"
    quantile_range: tuple[float, float] = (25.0, 75.0)
    clamp: float | None = Field(default=20.0, gt=0)
    train_stride_s: float = Field(default=0.5, gt=0)
    max_scaler_windows: int = Field(default=2000, ge=1)
    drop_cross_split: bool = True
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_method: Literal["rank", "hash"] = "rank"
    min_block_s: float = Field(default=6.0, ge=0, description="consecutive sentences of a sound file are merged "
                               "into blocks of at least this long before the split, s (the paper's 6 s)")
    # Speech features.
    features: Literal["mel", "envelope", "wav2vec"] = "mel"
    audio_sfreq_hz: int = Field(default=16000, gt=0)
    n_mels: int = Field(default=120, ge=1)
    n_fft: int = Field(default=512, ge=16)
    wav2vec_checkpoint: str | None = Field(default=None, description="local Hugging Face wav2vec 2.0 folder")
    wav2vec_layers: tuple[int, int] = (14, 18)
    standardise: Literal["global", "per_feature"] = Field(
        default="global", description="global: one mean/std for all features (the paper); per_feature: per band")
    cache: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> BrainSpeechData:
        if self.tmax_s <= self.tmin_s:
            raise ValueError(f"tmax_s ({self.tmax_s}) must be after tmin_s ({self.tmin_s})")
        # A missing bids_root or wav2vec_checkpoint is reported when the run starts, so that a
        # protocol can leave them to --set (the paper protocol does).
        return self


class BrainSpeechModel(Section):
    """The SimpleConv brain encoder (paper width: 270 heads, 320 hidden, 5 blocks)."""

    encoder: Literal["simple_conv"] = "simple_conv"
    n_heads: int = Field(default=270, ge=1)
    hidden: int = Field(default=320, ge=1)
    n_blocks: int = Field(default=5, ge=1)
    n_freqs: int = Field(default=32, ge=1)
    head_hidden: int | None = Field(default=None, ge=1)
    spatial_dropout_radius: float = Field(default=0.2, ge=0)
    subject_layers: bool = True
    unseen_subject: bool = Field(default=False, description="learn a shared subject layer for unseen subjects")
    unseen_subject_prob: float = Field(default=0.1, ge=0, le=1)


class BrainSpeechLoss(Section):
    """CLIP loss from brain to speech (the paper's: candidates normalised, no temperature).

    ``gather`` and ``mask_same_segment`` fix the two flaws of the original code: negatives
    are gathered across processes, and a candidate that is the very speech segment of the
    row (heard by another subject, or by the same subject twice) is not a negative.
    """

    name: Literal["clip"] = "clip"
    normalize: Literal["candidates", "both", "none"] = "candidates"
    symmetric: bool = False
    learnable_temperature: bool = False
    init_temperature: float | None = Field(default=None, gt=0,
                                           description="None: no temperature (the paper); else 1/scale")
    gather: bool = True
    mask_same_segment: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> BrainSpeechLoss:
        if self.learnable_temperature and self.init_temperature is None:
            raise ValueError("learnable_temperature needs init_temperature (e.g. 0.07)")
        return self


class BrainSpeechEvaluate(Section):
    """Segment identification on the test sentences, the baselines and the report material."""

    ks: list[int] = Field(default_factory=lambda: [1, 5, 10])
    word_k: int = Field(default=10, ge=1)
    batch_size: int = Field(default=64, ge=1)
    ridge: bool = True
    ridge_alphas: list[float] = Field(default_factory=lambda: [1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5])
    ridge_lags_s: tuple[float, float] = Field(
        default=(-0.15, 0.45), description="brain lags after the (already 150 ms-shifted) speech, s: 0-600 ms latency")
    ridge_lag_step: int = Field(default=6, ge=1, description="lag spacing in samples")
    ridge_folds: int = Field(default=5, ge=2, description="cross-validation folds (whole sentence blocks) "
                             "that choose the ridge penalty; every distinct training time point enters the fit")
    scoring_rules: list[Literal["loss", "correlation"]] = Field(
        default_factory=lambda: ["loss", "correlation"], min_length=1,
        description="how a predicted window is compared with a candidate: 'loss' (the training loss's score), "
                    "'correlation' (Pearson r over features x time); each decoder takes the rule of highest "
                    "validation top-10 (the first listed on a tie)")
    oracle: bool = True
    permutations: int = Field(default=1000, ge=0)
    curve_max_k: int = Field(default=50, ge=1)
    worst_cases: int = Field(default=5, ge=0)


SECTIONS = register_sections("brain_speech", data=BrainSpeechData, model=BrainSpeechModel, loss=BrainSpeechLoss,
                  evaluate=BrainSpeechEvaluate)
