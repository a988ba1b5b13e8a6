"""From recordings to training and test windows: the preprocessing of Défossez et al. 2023.

Every step is the paper's and every number is a parameter of :class:`WindowConfig`:

1. the brain signal is resampled to 120 Hz with a polyphase filter, which is an
   anti-alias low-pass and nothing else (no band-pass); any recording sampled at or above
   that rate is accepted (a 128 Hz EEG recording holds everything below 60 Hz);
2. windows run from -0.5 s to +2.5 s around an anchor (361 samples, both ends included);
   the brain window is taken 150 ms later than the speech window because the brain
   responds to what it heard;
3. each brain window loses its baseline, the per-channel mean over [-0.5, 0] s
   (:func:`biocl.data.meg.scaling.baseline_correct`);
4. a per-recording robust scaler (channel median and interquartile range), fitted on that
   recording's training windows only, standardises the windows, which are then clamped to
   [-20, 20] (:class:`biocl.data.meg.scaling.RobustScaler`, fitted by :func:`fit_scalers`);
5. consecutive sentences of a sound file are merged into blocks of at least 6 s, and
   blocks are assigned to train / valid / test (70 / 10 / 20) by a hash, so a sentence is
   in the same split for every subject (:mod:`biocl.data.meg.splits`); training windows
   start every 0.5 s of stimulus, valid and test windows at each word onset, and a valid or
   test window is kept only if its whole span (speech and brain window, lag included)
   lies clear of every sentence of another split.

Windows are not materialised up front: a :class:`WindowTable` holds, per window, where
its brain and speech samples start, and :func:`extract_brain` / :func:`extract_speech`
cut them out when a batch needs them, so an hour-long recording costs its continuous
signal, not six overlapping copies of it.

Speech features are held per stimulus file (every subject hears the same files), at the
window rate; samples before or after the file are filled with the features of silence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from biocl.data.meg.recording import check_rate
from biocl.data.meg.scaling import RobustScaler, baseline_correct
from biocl.data.meg.splits import SPLITS
from biocl.utils.errors import BioclError

__all__ = [
    "WindowConfig",
    "resample_to",
    "PreparedRecording",
    "prepare_recording",
    "WindowTable",
    "build_windows",
    "fit_scalers",
    "extract_brain",
    "extract_speech",
    "batch_arrays",
]


@dataclass(frozen=True)
class WindowConfig:
    """Preprocessing and windowing parameters (defaults: the paper's).

    Attributes
    ----------
    sfreq_hz : float
        Rate of brain and speech windows, in Hz.
    tmin_s, tmax_s : float
        Window bounds around the anchor, in seconds (both samples included).
    baseline_s : tuple of float | None
        Interval whose per-channel mean is subtracted from each brain window, in seconds
        relative to the (shifted) anchor; None keeps the raw level.
    brain_shift_s : float
        Delay of the brain window after the speech window, in seconds.
    scaler : {"robust", "none"}
        Per-recording scaling fitted on training windows.
    quantile_range : tuple of float
        Percentiles whose difference is the robust scale.
    clamp : float | None
        Scaled values are clipped to [-clamp, clamp].
    train_stride_s : float
        Spacing of training window anchors within a stimulus, in seconds.
    max_scaler_windows : int
        At most this many training windows (evenly spaced) fit a recording's scaler.
    drop_cross_split : bool
        Drop training windows that overlap, in the recording's time (brain shift included),
        a word of a valid or test sentence, and valid or test windows whose span reaches a
        sentence of another split: no held-out speech, and no brain response to it, is ever
        trained on, and no held-out window holds speech that was.
    split_fractions : tuple of float
        Train, valid and test shares of the sentence blocks.
    min_block_s : float
        Consecutive sentences of one sound file are merged into blocks of at least this
        long before the split (:func:`biocl.data.meg.splits.sentence_blocks`; the paper's 6 s).
    split_method : {"hash", "rank"}
        ``hash`` buckets each sentence by its hash alone (the paper); ``rank`` orders the
        data set's sentences by hash and cuts at the fractions, giving exact shares on small
        data sets. Both put a sentence in the same split for every subject.
    """

    sfreq_hz: float = 120.0
    tmin_s: float = -0.5
    tmax_s: float = 2.5
    baseline_s: tuple[float, float] | None = (-0.5, 0.0)
    brain_shift_s: float = 0.15
    scaler: str = "robust"
    quantile_range: tuple[float, float] = (25.0, 75.0)
    clamp: float | None = 20.0
    train_stride_s: float = 0.5
    max_scaler_windows: int = 2000
    drop_cross_split: bool = True
    split_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_method: str = "rank"
    min_block_s: float = 6.0

    @property
    def n_times(self) -> int:
        """Samples per window."""
        return int(round((self.tmax_s - self.tmin_s) * self.sfreq_hz)) + 1

    def baseline_slice(self) -> slice | None:
        """Window samples of the baseline interval."""
        if self.baseline_s is None:
            return None
        start = int(round((self.baseline_s[0] - self.tmin_s) * self.sfreq_hz))
        stop = int(round((self.baseline_s[1] - self.tmin_s) * self.sfreq_hz)) + 1
        return slice(max(start, 0), min(stop, self.n_times))


def resample_to(data: np.ndarray, sfreq_hz: float, target_hz: float, *, path: str | Path | None = None
                ) -> tuple[np.ndarray, float]:
    """Resample (channels, times) data with a polyphase anti-alias filter.

    Parameters
    ----------
    data : array of shape (n_channels, n_times)
        The signal at ``sfreq_hz``.
    sfreq_hz, target_hz : float
        Input and wanted rates, in Hz.
    path : str | Path | None
        The recording, named in errors.

    Returns
    -------
    resampled : array of shape (n_channels, n_out), float32
    actual_hz : float
        The exact output rate (``sfreq_hz * up / down``; equal to ``target_hz`` unless the
        ratio needed a rational approximation).
    """
    check_rate(sfreq_hz, target_hz, path)
    ratio = Fraction(target_hz / sfreq_hz).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    if up == down:
        return np.asarray(data, dtype=np.float32), float(sfreq_hz)
    out = resample_poly(np.asarray(data, dtype=np.float64), up, down, axis=-1)
    return out.astype(np.float32), float(sfreq_hz) * up / down


@dataclass
class PreparedRecording:
    """A recording resampled to the window rate, with what windowing needs."""

    path: Path
    subject: str
    session: str
    task: str
    brain: np.ndarray
    sfreq_hz: float
    positions: np.ndarray
    position_mask: np.ndarray
    events: list[Any]
    scaler: RobustScaler | None = None

    @property
    def n_channels(self) -> int:
        """Sensor channels of the recording."""
        return int(self.brain.shape[0])


def prepare_recording(recording: Any, config: WindowConfig) -> PreparedRecording:
    """Resample a :class:`biocl.data.meg.recording.Recording` to the window rate.

    Raises
    ------
    BioclError
        When the recording has no word events, or its rate is below the window rate.
    """
    if not recording.events:
        raise BioclError("the recording has no word events", path=recording.path,
                         hint="give an events.tsv with word onsets next to it")
    data = recording.raw.get_data()
    if not np.all(np.isfinite(data)):
        raise BioclError("the recording holds NaN or infinite samples", path=recording.path,
                         hint="repair or exclude the file")
    brain, actual = resample_to(data, recording.sfreq_hz, config.sfreq_hz, path=recording.path)
    return PreparedRecording(path=Path(recording.path), subject=str(recording.subject),
                             session=str(recording.session), task=str(recording.task), brain=brain,
                             sfreq_hz=actual, positions=np.asarray(recording.positions, np.float32),
                             position_mask=np.asarray(recording.position_mask, bool),
                             events=list(recording.events))


@dataclass
class WindowTable:
    """Where each window's samples are: one row per window, columns as arrays.

    ``brain_start`` indexes the recording's resampled signal, ``speech_start`` the
    stimulus file's features (negative or past the end where the window leaves the file).
    ``segment`` is ``"<sentence id>:<word index>"`` for word-anchored windows and the empty
    string for training windows; ``speech_id`` numbers the distinct speech windows (the same
    stimulus samples heard by two subjects share it).
    """

    recording: np.ndarray
    brain_start: np.ndarray
    sound: np.ndarray
    speech_start: np.ndarray
    segment: np.ndarray
    word: np.ndarray
    sentence: np.ndarray
    speech_id: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.recording.size)

    def subset(self, rows: np.ndarray) -> WindowTable:
        """The rows ``rows`` (indices or a boolean mask)."""
        return WindowTable(**{name: getattr(self, name)[rows] for name in self.__dataclass_fields__})


def _empty_rows() -> dict[str, list]:
    return {name: [] for name in ("recording", "brain_start", "sound", "speech_start", "segment", "word", "sentence")}


def _table(rows: dict[str, list]) -> WindowTable:
    ints = {"recording", "brain_start", "sound", "speech_start"}
    columns = {name: np.asarray(values, dtype=np.int64 if name in ints else object)
               for name, values in rows.items()}
    keys = list(zip(columns["sound"].tolist(), columns["speech_start"].tolist(), strict=True))
    lookup: dict[tuple[int, int], int] = {}
    speech_id = np.array([lookup.setdefault(key, len(lookup)) for key in keys], dtype=np.int64)
    return WindowTable(**columns, speech_id=speech_id)


def build_windows(recordings: list[PreparedRecording], sound_lengths: dict[Path, int],
                  splits: dict[str, str], config: WindowConfig
                  ) -> tuple[dict[str, WindowTable], list[Path], dict[str, int]]:
    """Lay out the training (every ``train_stride_s``) and word-onset windows of every recording.

    Parameters
    ----------
    recordings : list of PreparedRecording
        Resampled recordings with their word events.
    sound_lengths : dict
        Stimulus file to its feature length in samples at ``config.sfreq_hz``.
    splits : dict
        Sentence id to ``train`` / ``valid`` / ``test`` (see :func:`biocl.data.meg.splits.assign_splits`).
    config : WindowConfig

    Returns
    -------
    tables : dict
        Split name to its :class:`WindowTable`.
    sounds : list of Path
        The stimulus files; ``WindowTable.sound`` indexes this list.
    exclusions : dict
        Reason to the number of windows or events left out.
    """
    sounds = sorted(sound_lengths)
    sound_index = {path: i for i, path in enumerate(sounds)}
    rows = {split: _empty_rows() for split in SPLITS}
    exclusions: dict[str, int] = defaultdict(int)
    sf, n_times = config.sfreq_hz, config.n_times
    for r, rec in enumerate(recordings):
        n_brain = rec.brain.shape[1]
        plays: dict[tuple[Path, float], list[Any]] = defaultdict(list)
        for event in rec.events:
            if event.sound_file is None or Path(event.sound_file) not in sound_index:
                exclusions["word events without a stimulus file"] += 1
                continue
            if not np.isfinite(event.sound_onset_s):
                exclusions["word events without an onset in their stimulus file"] += 1
                continue
            offset = round(event.onset_s - event.sound_onset_s, 3)
            plays[(Path(event.sound_file), offset)].append(event)
        # Where held-out sentences play in this recording: no training window may touch them,
        # neither through its speech nor through the brain response to it.
        held_out = np.array([(e.onset_s, e.onset_s + e.duration_s) for events in plays.values() for e in events
                             if splits[e.sentence_id] != "train"]).reshape(-1, 2)
        spans_of = {play: _sentence_spans(events) for play, events in plays.items()}
        heard, heard_split = _heard(spans_of, splits)
        for (sound, offset), events in plays.items():
            s = sound_index[sound]
            spans = spans_of[(sound, offset)]
            for event in events:
                split = splits[event.sentence_id]
                if split == "train":
                    continue
                # The whole span of the window, speech and brain (lag included), must lie in
                # audio of its own split: on story-length stimuli a word-onset window reaches
                # into the neighbouring sentences, which may have been trained on.
                lo = event.onset_s + config.tmin_s + min(config.brain_shift_s, 0.0)
                hi = event.onset_s + config.tmax_s + max(config.brain_shift_s, 0.0)
                if config.drop_cross_split and np.any((heard[:, 0] < hi) & (heard[:, 1] > lo) & (heard_split != split)):
                    exclusions[f"{split} windows reaching audio of another split"] += 1
                    continue
                brain_start = int(round((event.onset_s + config.brain_shift_s + config.tmin_s) * rec.sfreq_hz))
                if brain_start < 0 or brain_start + n_times > n_brain:
                    exclusions["word windows that run past the recording"] += 1
                    continue
                _append(rows[split], r, brain_start, s, int(round((event.sound_onset_s + config.tmin_s) * sf)),
                        f"{event.sentence_id}:{event.word_index}", event.word, event.sentence_id)
            duration_s = sound_lengths[sound] / sf
            for anchor in np.arange(0.0, duration_s, config.train_stride_s):
                lo, hi = anchor + config.tmin_s, anchor + config.tmax_s
                train = [key for key, (a, b) in spans.items() if a < hi and b > lo and splits[key] == "train"]
                if not train:
                    continue
                start_s, end_s = offset + lo, offset + hi + max(config.brain_shift_s, 0.0)
                touches = (held_out[:, 0] < end_s) & (held_out[:, 1] > start_s)
                if config.drop_cross_split and touches.any():
                    exclusions["training windows overlapping held-out speech"] += 1
                    continue
                brain_start = int(round((offset + anchor + config.brain_shift_s + config.tmin_s) * rec.sfreq_hz))
                if brain_start < 0 or brain_start + n_times > n_brain:
                    exclusions["training windows that run past the recording"] += 1
                    continue
                _append(rows["train"], r, brain_start, s, int(round(lo * sf)), "", "", train[0])
    return {split: _table(rows[split]) for split in SPLITS}, sounds, dict(exclusions)


def _sentence_spans(events: list[Any]) -> dict[str, list[float]]:
    """First word onset and last word end of each sentence of one play, in its file's time (s)."""
    spans: dict[str, list[float]] = {}
    for event in events:
        span = spans.setdefault(event.sentence_id, [np.inf, -np.inf])
        span[0] = min(span[0], event.sound_onset_s)
        span[1] = max(span[1], event.sound_onset_s + event.duration_s)
    return spans


def _heard(spans_of: dict[tuple[Path, float], dict[str, list[float]]], splits: dict[str, str]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Every sentence heard in a recording: (n, 2) spans in recording time (s) and their splits."""
    spans = [(offset + a, offset + b, splits[key]) for (_, offset), by_sentence in spans_of.items()
             for key, (a, b) in by_sentence.items()]
    return (np.array([(a, b) for a, b, _ in spans], dtype=np.float64).reshape(-1, 2),
            np.array([split for *_, split in spans], dtype=object))


def _append(rows: dict[str, list], recording: int, brain_start: int, sound: int, speech_start: int,
            segment: str, word: str, sentence: str) -> None:
    for name, value in (("recording", recording), ("brain_start", brain_start), ("sound", sound),
                        ("speech_start", speech_start), ("segment", segment), ("word", word),
                        ("sentence", sentence)):
        rows[name].append(value)


def extract_brain(recording: PreparedRecording, starts: np.ndarray, config: WindowConfig, *,
                  scale: bool = True) -> np.ndarray:
    """Brain windows of one recording: cut, baseline-corrected, robust-scaled and clamped.

    Parameters
    ----------
    recording : PreparedRecording
    starts : array of int
        First sample of each window in the resampled signal.
    config : WindowConfig
    scale : bool
        Apply the recording's fitted scaler (False while fitting it).

    Returns
    -------
    array of shape (len(starts), n_channels, n_times), float32
    """
    starts = np.asarray(starts, dtype=np.int64)
    index = starts[:, None] + np.arange(config.n_times)[None, :]
    windows = recording.brain[:, index].transpose(1, 0, 2)
    windows = baseline_correct(windows, config.baseline_slice())
    if scale and recording.scaler is not None:
        return recording.scaler.transform(windows)
    return np.asarray(windows, dtype=np.float32)


def extract_speech(features: np.ndarray, starts: np.ndarray, n_times: int, fill: np.ndarray) -> np.ndarray:
    """Speech windows of one stimulus file, the silence features ``fill`` outside the file.

    Returns
    -------
    array of shape (len(starts), n_features, n_times), float32
    """
    n_features, length = features.shape
    padded = np.concatenate([np.repeat(fill[:, None], n_times, 1), features,
                             np.repeat(fill[:, None], n_times, 1)], axis=1).astype(np.float32, copy=False)
    starts = np.clip(np.asarray(starts, dtype=np.int64), -n_times, length) + n_times
    index = starts[:, None] + np.arange(n_times)[None, :]
    return padded[:, index].transpose(1, 0, 2)


def fit_scalers(recordings: list[PreparedRecording], train: WindowTable, config: WindowConfig) -> list[int]:
    """Fit each recording's robust scaler on its training windows; return recordings without any.

    At most ``config.max_scaler_windows`` evenly spaced windows are used, so the fit is
    deterministic and bounded in memory.
    """
    missing = []
    for r, rec in enumerate(recordings):
        rec.scaler = None
        if config.scaler == "none":
            continue
        starts = train.brain_start[train.recording == r]
        if starts.size == 0:
            missing.append(r)
            continue
        if starts.size > config.max_scaler_windows:
            starts = starts[np.linspace(0, starts.size - 1, config.max_scaler_windows).round().astype(int)]
        windows = extract_brain(rec, starts, config, scale=False)
        rec.scaler = RobustScaler(config.quantile_range, config.clamp).fit(windows)
    return missing


def batch_arrays(recordings: list[PreparedRecording], table: WindowTable, rows: np.ndarray,
                 speech: list[np.ndarray], silence: np.ndarray, config: WindowConfig,
                 subject_index: dict[str, int]) -> dict[str, np.ndarray]:
    """Materialise windows ``rows`` of ``table`` as one batch (channels zero-padded and masked).

    Returns
    -------
    dict
        ``brain`` (B, C_max, T), ``positions`` (B, C_max, 2), ``position_mask`` (B, C_max),
        ``subjects`` (B,) (-1 for a subject not in ``subject_index``), ``speech`` (B, F, T),
        ``speech_id`` (B,).
    """
    rows = np.asarray(rows, dtype=np.int64)
    n, t = rows.size, config.n_times
    n_channels = max(recordings[r].n_channels for r in set(table.recording[rows].tolist())) if n else 0
    brain = np.zeros((n, n_channels, t), np.float32)
    positions = np.zeros((n, n_channels, 2), np.float32)
    mask = np.zeros((n, n_channels), bool)
    subjects = np.empty(n, np.int64)
    for r in np.unique(table.recording[rows]):
        rec = recordings[r]
        where = np.flatnonzero(table.recording[rows] == r)
        c = rec.n_channels
        brain[where, :c] = extract_brain(rec, table.brain_start[rows[where]], config)
        positions[where, :c] = rec.positions
        mask[where, :c] = rec.position_mask
        subjects[where] = subject_index.get(rec.subject, -1)
    n_features = silence.shape[0]
    speech_windows = np.zeros((n, n_features, t), np.float32)
    for s in np.unique(table.sound[rows]):
        where = np.flatnonzero(table.sound[rows] == s)
        speech_windows[where] = extract_speech(speech[s], table.speech_start[rows[where]], t, silence)
    return {"brain": brain, "positions": positions, "position_mask": mask, "subjects": subjects,
            "speech": speech_windows, "speech_id": table.speech_id[rows]}
