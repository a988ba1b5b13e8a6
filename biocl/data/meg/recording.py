"""Reading M/EEG recordings: any format MNE reads, word events, 2-D sensor positions.

A :class:`Recording` is what the brain-to-speech pipeline consumes: the data channels of one
recording (MEG or EEG, bad channels kept and listed in ``info["bads"]``), the words heard
during it (:class:`WordEvent`) and the sensors' 2-D positions for the spatial attention
layer. :func:`read_recording` reads one file; :func:`biocl.data.meg.bids.read_bids` reads a
BIDS or BIDS-like data set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biocl.utils.errors import BioclError

if TYPE_CHECKING:
    import mne

__all__ = [
    "WordEvent",
    "Recording",
    "read_recording",
    "recording_from_raw",
    "check_rate",
    "sensor_positions",
    "sentence_id",
    "read_trigger_file",
]

_READABLE = "FIF, CTF .ds, KIT .sqd/.con, BTi, EDF/BDF, BrainVision .vhdr, EEGLAB .set"
_PICK_TYPES = ("meg", "mag", "grad", "eeg")


@dataclass(frozen=True)
class WordEvent:
    """One word heard during a recording.

    Attributes
    ----------
    onset_s : float
        Onset in the recording's time, in seconds from its first sample.
    duration_s : float
        Duration of the word, in seconds.
    word : str
        The word as written.
    word_index : int
        Position of the word in its sentence (0 for the first word).
    sentence_id : str
        Stable id of the sentence: a hash of its text (:func:`sentence_id`), so the same
        sentence heard by several subjects has the same id.
    sentence : str
        The sentence text, or the story and sentence index when no text is known.
    sound_file : Path | None
        The stimulus WAV that contains this word.
    sound_onset_s : float
        Where the word starts inside ``sound_file``, in seconds.
    """

    onset_s: float
    duration_s: float
    word: str
    word_index: int
    sentence_id: str
    sentence: str
    sound_file: Path | None
    sound_onset_s: float


@dataclass
class Recording:
    """The data channels of one recording, its words and its sensor positions.

    Attributes
    ----------
    raw : mne.io.BaseRaw
        Data channels only (MEG or EEG), loaded in memory; bad channels are kept and
        listed in ``raw.info["bads"]``.
    path : Path
        The file the recording was read from.
    subject, session, task : str
        BIDS entities (or what the caller passed).
    events : list of WordEvent
        The words heard, in onset order (empty when the recording has none).
    positions : np.ndarray
        ``(n_channels, 2)`` float32 in [0, 1], scaled per recording; channels without a
        position hold 0 and are False in ``position_mask``.
    position_mask : np.ndarray
        ``(n_channels,)`` bool, False for bad channels and channels with no position.
    sfreq_hz : float
        Sampling rate of ``raw``, in Hz.
    triggers : np.ndarray
        ``(n, 3)`` int events found on the file's stimulus channels before they were
        dropped (``mne.find_events`` layout: sample, previous value, value); empty when
        the file has no stimulus channel. Annotations stay in ``raw.annotations``.
    """

    raw: Any
    path: Path
    subject: str
    session: str
    task: str
    events: list[WordEvent]
    positions: np.ndarray
    position_mask: np.ndarray
    sfreq_hz: float
    triggers: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))

    @property
    def ch_names(self) -> list[str]:
        """Names of the data channels, in the order of ``positions``."""
        return list(self.raw.ch_names)


def sentence_id(text: str) -> str:
    """Stable id of a sentence: the first 16 hex digits of SHA-256 of its normalised text.

    Case and runs of white space do not change the id, so the same sentence gets the same
    id in every subject's events whatever the file's spelling of spaces.
    """
    normalised = " ".join(text.lower().split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:16]


def read_recording(
    path: str | Path,
    *,
    subject: str = "01",
    session: str = "0",
    task: str = "task",
    events: list[WordEvent] | None = None,
    picks: tuple[str, ...] = ("meg", "eeg"),
    montage: str | None = None,
    min_sfreq_hz: float | None = None,
) -> Recording:
    """Read one M/EEG recording in any format MNE reads.

    Parameters
    ----------
    path : str | Path
        The recording: FIF, CTF ``.ds`` folder, KIT ``.sqd``/``.con``, BTi, EDF/BDF,
        BrainVision ``.vhdr`` or EEGLAB ``.set``.
    subject, session, task : str
        Labels stored on the recording.
    events : list of WordEvent | None
        Words heard during the recording (none by default).
    picks : tuple of str
        Channel types to keep among ``"meg"``, ``"mag"``, ``"grad"`` and ``"eeg"``.
        MEG reference channels, stimulus and auxiliary channels are always dropped.
    montage : str | None
        Name of an MNE standard montage (``"colin27_1005"``, ``"biosemi64"``, ...) to
        place EEG channels that the file stores without positions. Channels the montage
        does not name stay without a position (masked). Positions the file carries are
        never replaced.
    min_sfreq_hz : float | None
        The lowest sampling rate accepted, in Hz: the decoder's working rate
        (``data.sfreq_hz``), checked before the data are loaded. None accepts any rate.

    Returns
    -------
    Recording
        With the data loaded in memory.

    Raises
    ------
    BioclError
        If the file is missing, unreadable or truncated, has no MEG/EEG channel, is
        sampled below ``min_sfreq_hz``, holds NaN or infinite values, or no channel has a
        position.
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise BioclError("no such recording", path=path, hint="check the path")
    try:
        raw = mne.io.read_raw(path, preload=False, verbose="error")
    except Exception as exc:  # MNE's readers raise many types for a damaged file
        raise BioclError(f"cannot read the recording ({type(exc).__name__}: {exc})", path=path,
                         hint=f"check the file is complete and in a format MNE reads ({_READABLE})") from exc
    triggers = stim_triggers(raw, path)
    return recording_from_raw(raw, path, subject=subject, session=session, task=task, events=events,
                              picks=picks, montage=montage, triggers=triggers, min_sfreq_hz=min_sfreq_hz)


def check_rate(sfreq_hz: float, min_sfreq_hz: float | None, path: str | Path | None = None) -> None:
    """Refuse a recording sampled below the decoder's working rate ``min_sfreq_hz`` (Hz).

    Resampling down to the working rate needs content only below its Nyquist frequency,
    which any recording at or above that rate has (a 128 Hz EEG recording holds 0-64 Hz;
    the polyphase resampler's anti-alias filter removes what lies above 60 Hz). Only a
    recording slower than the working rate cannot be decoded without inventing samples.

    Raises
    ------
    BioclError
        Naming the file, its rate and the configured rate.
    """
    if min_sfreq_hz is not None and sfreq_hz < min_sfreq_hz:
        raise BioclError(f"sampling rate {sfreq_hz:g} Hz is below the decoder's configured rate "
                         f"data.sfreq_hz = {min_sfreq_hz:g} Hz", path=path,
                         hint=f"use a recording sampled at {min_sfreq_hz:g} Hz or more, or lower data.sfreq_hz "
                              f"to {sfreq_hz:g} or less")


def recording_from_raw(
    raw: mne.io.BaseRaw,
    path: str | Path,
    *,
    subject: str = "01",
    session: str = "0",
    task: str = "task",
    events: list[WordEvent] | None = None,
    picks: tuple[str, ...] = ("meg", "eeg"),
    montage: str | None = None,
    triggers: np.ndarray | None = None,
    min_sfreq_hz: float | None = None,
) -> Recording:
    """Build a :class:`Recording` from an already opened raw (the checks of :func:`read_recording`).

    ``raw`` is modified in place (channels picked, data loaded); ``path`` names the file in
    error messages. The other parameters are those of :func:`read_recording`.
    """
    import mne

    path = Path(path)
    unknown = sorted(set(picks) - set(_PICK_TYPES))
    if unknown:
        raise ValueError(f"unknown channel types {unknown}; choose among {_PICK_TYPES}")
    meg: bool | str = "meg" in picks or ("mag" in picks and "grad" in picks)
    if not meg and ("mag" in picks or "grad" in picks):
        meg = "mag" if "mag" in picks else "grad"
    data_picks = mne.pick_types(raw.info, meg=meg, eeg="eeg" in picks, ref_meg=False, exclude=[])
    if len(data_picks) == 0:
        raise BioclError(f"the recording has no {'/'.join(picks)} channel", path=path,
                         hint=f"channel types present: {sorted(set(raw.get_channel_types()))}")
    raw.pick(data_picks, verbose="error")
    sfreq_hz = float(raw.info["sfreq"])
    check_rate(sfreq_hz, min_sfreq_hz, path)
    try:
        raw.load_data(verbose="error")
    except Exception as exc:  # a truncated file can fail only when its data are read
        raise BioclError(f"cannot read the recording's data ({type(exc).__name__}: {exc})", path=path,
                         hint="the file may be truncated; copy it again") from exc
    _check_finite(raw, path)
    if montage is not None:
        _place_missing_positions(raw, montage, path)
    positions, mask = sensor_positions(raw.info, path=path)
    return Recording(
        raw=raw, path=path, subject=str(subject), session=str(session), task=str(task),
        events=sorted(events or [], key=lambda event: event.onset_s),
        positions=positions, position_mask=mask, sfreq_hz=sfreq_hz,
        triggers=np.zeros((0, 3), dtype=np.int64) if triggers is None else np.asarray(triggers, dtype=np.int64),
    )


def _check_finite(raw: mne.io.BaseRaw, path: Path) -> None:
    data = raw.get_data(reject_by_annotation=None)
    finite = np.isfinite(data)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        names = [raw.ch_names[i] for i in bad_rows[:5]]
        raise BioclError(f"the data hold NaN or infinite values ({int((~finite).sum())} samples, "
                         f"channels {', '.join(names)}{' ...' if len(bad_rows) > 5 else ''})", path=path,
                         hint="interpolate or drop the broken channels/segments before decoding")


def _place_missing_positions(raw: mne.io.BaseRaw, montage: str, path: Path) -> None:
    import mne

    if has_positions(raw.info).any():
        return
    try:
        standard = mne.channels.make_standard_montage(montage)
    except ValueError as exc:
        raise BioclError(f"unknown montage {montage!r}", path=path,
                         hint="use a name from mne.channels.get_builtin_montages()") from exc
    raw.set_montage(standard, match_case=False, on_missing="ignore", verbose="error")


def stim_triggers(raw: mne.io.BaseRaw, path: Path | None = None) -> np.ndarray:
    """``mne.find_events`` on the stimulus channels, read before they are dropped."""
    import mne

    if len(mne.pick_types(raw.info, meg=False, stim=True, exclude=[])) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    try:
        return np.asarray(mne.find_events(raw, shortest_event=1, verbose="error"), dtype=np.int64)
    except ValueError:
        # A stimulus channel that never changes, or that MNE cannot decode, holds no triggers.
        return np.zeros((0, 3), dtype=np.int64)
    except Exception as exc:  # reading the channel from a damaged file
        raise BioclError(f"cannot read the stimulus channel ({type(exc).__name__}: {exc})", path=path,
                         hint="the file may be truncated; copy it again") from exc


def read_trigger_file(path: str | Path) -> np.ndarray:
    """Read an MNE events file (``*-eve.fif`` or its text form) as ``(n, 3)`` int events.

    Raises
    ------
    BioclError
        If the file is missing or not an events file.
    """
    import mne

    path = Path(path)
    if not path.exists():
        raise BioclError("no such events file", path=path, hint="check the path")
    try:
        return np.asarray(mne.read_events(path, verbose="error"), dtype=np.int64)
    except Exception as exc:  # text and FIF readers raise different types for a bad file
        raise BioclError(f"cannot read the events file ({exc})", path=path,
                         hint="expected an MNE events file: -eve.fif or lines of 'sample previous value'") from exc


def has_positions(info: mne.Info) -> np.ndarray:
    locs = np.array([ch["loc"][:3] for ch in info["chs"]], dtype=float).reshape(-1, 3)
    return np.isfinite(locs).all(axis=1) & (np.linalg.norm(np.nan_to_num(locs), axis=1) > 1e-6)


def sensor_positions(info: mne.Info, *, path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D sensor positions in [0, 1] from the recording's own channel locations.

    The 3-D locations (MEG sensors moved from device to head coordinates with
    ``info["dev_head_t"]``; EEG electrodes as digitised) are projected the way MNE draws a
    topomap when no stored layout is used: centred on the sphere fitted to the sensors,
    then an azimuthal equidistant projection around the vertical axis (polar angle as the
    radius). Each axis is then scaled to [0, 1] over the channels that have a position, per
    recording, as in the paper's code.

    Parameters
    ----------
    info : mne.Info
        Measurement info; only MEG and EEG channels can get a position.
    path : str | Path | None
        The recording, named in the error message.

    Returns
    -------
    positions : np.ndarray
        ``(n_channels, 2)`` float32 in [0, 1]; 0 for channels without a position.
    mask : np.ndarray
        ``(n_channels,)`` bool: True where the channel has a position and is not bad.

    Raises
    ------
    BioclError
        If fewer than three data channels have a position.
    """
    import mne
    from mne.io.constants import FIFF

    chs = info["chs"]
    locs = np.array([ch["loc"][:3] for ch in chs], dtype=float).reshape(-1, 3)
    is_data = np.array([ch["kind"] in (FIFF.FIFFV_MEG_CH, FIFF.FIFFV_EEG_CH) for ch in chs], dtype=bool)
    has = has_positions(info) & is_data
    n_data, n_placed = int(is_data.sum()), int(has.sum())
    if n_data < 3:
        raise BioclError(f"the recording has {n_data} MEG/EEG channel{'s' if n_data != 1 else ''}; the spatial "
                         "attention over sensor positions needs at least 3", path=path,
                         hint="decode a recording with more channels (check the channel types it stores)")
    if n_placed < 3:
        raise BioclError(f"no sensor positions: {n_placed} of {n_data} MEG/EEG channels have a location (at least "
                         "3 are needed)", path=path,
                         hint="for EEG caps with standard names, pass a montage: --set data.montage=standard_1005 "
                              "(any name of mne.channels.get_builtin_montages())")
    head = locs.copy()
    in_device = np.array([ch["coord_frame"] == FIFF.FIFFV_COORD_DEVICE for ch in chs], dtype=bool)
    if in_device.any() and info.get("dev_head_t") is not None:
        head[in_device] = mne.transforms.apply_trans(info["dev_head_t"]["trans"], locs[in_device])
    centre = _sphere_centre(head[has])
    vectors = head[has] - centre
    polar = np.arccos(np.clip(vectors[:, 2] / np.linalg.norm(vectors, axis=1), -1.0, 1.0))
    azimuth = np.arctan2(vectors[:, 1], vectors[:, 0])
    flat = np.stack([polar * np.cos(azimuth), polar * np.sin(azimuth)], axis=1)
    low, span = flat.min(axis=0), np.ptp(flat, axis=0)
    scaled = np.where(span > 0, (flat - low) / np.where(span > 0, span, 1.0), 0.5)
    positions = np.zeros((len(chs), 2), dtype=np.float32)
    positions[has] = scaled.astype(np.float32)
    bads = set(info["bads"])
    mask = has & np.array([ch["ch_name"] not in bads for ch in chs], dtype=bool)
    return positions, mask


def _sphere_centre(points: np.ndarray) -> np.ndarray:
    """Least-squares centre of the sphere through ``points``; their centroid when degenerate."""
    design = np.column_stack([2.0 * points, np.ones(len(points))])
    target = (points**2).sum(axis=1)
    solution, _, rank, _ = np.linalg.lstsq(design, target, rcond=None)
    centre = solution[:3]
    spread = np.linalg.norm(points - points.mean(axis=0), axis=1).max()
    # A flat or collinear array has no sphere; a far-away centre would squash every angle.
    if rank < 4 or not np.isfinite(centre).all() or np.linalg.norm(centre - points.mean(axis=0)) > 10 * spread:
        return points.mean(axis=0) - np.array([0.0, 0.0, spread])
    return centre

