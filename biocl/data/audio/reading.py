"""Reading sounds: audio files, the three data set layouts, bad-clip handling and the length policy.

Every waveform biocl uses is read here: WAV, FLAC or OGG through soundfile, mixed down to
mono, resampled with torchaudio to the sample rate the model expects, as float32 in
[-1, 1]. A data set is given in one of four layouts:

``manifest``
    a CSV file with a ``path`` column (relative to the CSV's folder) and a ``caption`` or
    ``label`` column (both allowed); optional ``group`` column (speaker, fold, ...).
``esc50``
    ESC-50: ``meta/esc50.csv`` (``filename, fold, target, category, ...``) and ``audio/``;
    an optional ``caption`` column is used when present, the fold is the group.
``labelled_names``
    a folder of files whose names carry the label, e.g. the Free Spoken Digit Dataset
    ``{digit}_{speaker}_{index}.wav``, read with a regular expression with a ``label``
    (and optionally a ``group``) named group.
``folders``
    one sub-folder per class, its name the label (``sounds/dog/*.wav``, ``sounds/church_bell/``
    reads "church bell"); files anywhere below a class folder belong to it, a file directly
    in the top folder is counted as an exclusion.

Bad input never passes silently: an unreadable file, a zero-length clip, a silent clip
and a manifest row that points to a missing file are either counted exclusions
(``on_bad="exclude"``, reported in the run's flow) or a one-line :class:`BioclError`
naming the file (``on_bad="error"``).

The length policy is deterministic and explicit (:func:`fit_length`): a clip is padded
with zeros or trimmed to exactly ``n`` samples, aligned at the start or centred. There are
no random crops anywhere in reading or evaluation.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from biocl.utils.errors import BioclError

__all__ = [
    "AUDIO_SUFFIXES",
    "FSDD_PATTERN",
    "AudioClip",
    "AudioDataset",
    "list_folders",
    "read_audio",
    "rms_dbfs",
    "fit_length",
    "list_manifest",
    "list_esc50",
    "list_labelled_names",
    "load_audio_dataset",
]

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
FSDD_PATTERN = r"^(?P<label>\d+)_(?P<group>[A-Za-z]+)_(?P<index>\d+)$"
Layout = Literal["manifest", "esc50", "labelled_names", "folders"]
OnBad = Literal["exclude", "error"]


@dataclass
class AudioClip:
    """One sound: where it came from, its label or caption, and (once loaded) its samples.

    Attributes
    ----------
    path : Path
        The audio file.
    label : str | None
        The class name (e.g. ``"dog"``, ``"seven"``).
    caption : str | None
        A free-text caption, when the data set gives one.
    group : str | None
        A grouping for splits (speaker, ESC-50 fold).
    waveform : np.ndarray | None
        Mono float32 samples at the data set's sample rate, after :func:`load_audio_dataset`.
    """

    path: Path
    label: str | None = None
    caption: str | None = None
    group: str | None = None
    waveform: np.ndarray | None = None

    @property
    def clip_id(self) -> str:
        """The file name without its suffix: a stable identifier for reports."""
        return self.path.stem


@dataclass
class AudioDataset:
    """Loaded clips plus what was left out and why.

    Attributes
    ----------
    clips : list of AudioClip
        The usable clips, waveforms loaded, in a deterministic (sorted) order.
    sample_rate_hz : int
        Sample rate of every waveform, Hz.
    root : Path
        The folder or manifest the data set was read from.
    layout : str
        ``manifest``, ``esc50`` or ``labelled_names``.
    exclusions : list of dict
        ``{"reason", "count", "unit", "examples"}`` per reason, in the report's shape.
    n_listed : int
        Clips listed before exclusions.
    """

    clips: list[AudioClip]
    sample_rate_hz: int
    root: Path
    layout: str
    exclusions: list[dict] = field(default_factory=list)
    n_listed: int = 0

    @property
    def labels(self) -> list[str]:
        """The sorted distinct labels."""
        return sorted({c.label for c in self.clips if c.label is not None})

    def files(self) -> list[Path]:
        """The audio files of the usable clips."""
        return [c.path for c in self.clips]


def read_audio(path: str | Path, sample_rate_hz: int) -> np.ndarray:
    """Read a sound file as mono float32 at ``sample_rate_hz``.

    Parameters
    ----------
    path : str | Path
        A WAV, FLAC or OGG file (anything libsndfile reads).
    sample_rate_hz : int
        Target sample rate, Hz; the file is resampled with torchaudio when it differs.

    Returns
    -------
    np.ndarray of shape (n_samples,)
        Samples in [-1, 1]; may be empty when the file holds no frames.

    Raises
    ------
    BioclError
        When the file is missing, cannot be decoded, or holds NaN or infinite samples.
    """
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise BioclError("audio file not found", path=path, hint="check the path or the manifest row")
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, ValueError) as err:
        raise BioclError(f"cannot decode audio ({_first_line(err)})", path=path,
                         hint="convert it to WAV, FLAC or OGG, or remove it from the data set") from None
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.all(np.isfinite(mono)):
        raise BioclError("the file holds NaN or infinite samples", path=path,
                         hint="repair or remove the file (float WAVs can store NaN)")
    if mono.size and int(file_rate) != int(sample_rate_hz):
        import torch
        import torchaudio.functional

        mono = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(mono)), int(file_rate),
                                              int(sample_rate_hz)).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)


def rms_dbfs(waveform: np.ndarray) -> float:
    """Root-mean-square level of a waveform in dB relative to full scale (-inf when silent)."""
    if waveform.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else float("-inf")


def fit_length(waveform: np.ndarray, n_samples: int, *, align: Literal["start", "center"] = "center") -> np.ndarray:
    """Pad with zeros or trim a waveform to exactly ``n_samples``, deterministically.

    Parameters
    ----------
    waveform : np.ndarray of shape (n,)
        The samples.
    n_samples : int
        The length wanted, samples.
    align : {"start", "center"}
        ``"start"`` keeps the first samples and pads at the end; ``"center"`` keeps the
        middle and pads equally on both sides (the extra sample goes to the end).

    Returns
    -------
    np.ndarray of shape (n_samples,)
        The fitted copy; the same input always gives the same output.
    """
    n = waveform.shape[0]
    if n == n_samples:
        return waveform.astype(np.float32, copy=True)
    if n > n_samples:
        start = 0 if align == "start" else (n - n_samples) // 2
        return waveform[start:start + n_samples].astype(np.float32, copy=True)
    out = np.zeros(n_samples, dtype=np.float32)
    start = 0 if align == "start" else (n_samples - n) // 2
    out[start:start + n] = waveform
    return out


def list_manifest(csv_path: str | Path, *, on_bad: OnBad = "exclude") -> tuple[list[AudioClip], Counter]:
    """List the clips of a manifest CSV (``path`` plus ``caption`` and/or ``label``; optional ``group``).

    Rows whose file is missing are counted under ``"missing file"`` (or raise with ``on_bad="error"``).
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise BioclError("manifest file not found", path=csv_path)
    with _csv_errors(csv_path), open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        if "path" not in columns or not ({"caption", "label"} & columns):
            raise BioclError(f"a manifest needs a 'path' column and a 'caption' or 'label' column "
                             f"(found: {_column_names(reader.fieldnames or [])})", path=csv_path)
        rows = list(reader)
    clips, excluded = [], Counter()
    for line, row in enumerate(rows, start=2):
        path = csv_path.parent / (row.get("path") or "").strip()
        if not (row.get("path") or "").strip() or not _is_file(path):
            if on_bad == "error":
                raise BioclError(f"manifest row {line} points to a missing file {str(path)[:200]!r}", path=csv_path,
                                 hint="fix the row or pass on_bad=exclude to skip it")
            excluded["missing file"] += 1
            continue
        clips.append(AudioClip(path=path, label=_clean(row.get("label")), caption=_clean(row.get("caption")),
                               group=_clean(row.get("group"))))
    return clips, excluded


def list_esc50(root: str | Path, *, on_bad: OnBad = "exclude") -> tuple[list[AudioClip], Counter]:
    """List an ESC-50 layout: ``meta/esc50.csv`` and ``audio/``; the fold is the group.

    The category's underscores become spaces in the label (``chirping_birds`` -> ``chirping birds``).
    """
    root = Path(root)
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        raise BioclError("not an ESC-50 folder: meta/esc50.csv is missing", path=root,
                         hint="use layout 'manifest' or 'labelled_names' for other data sets")
    with _csv_errors(meta), open(meta, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"filename", "category"} - set(reader.fieldnames or [])
        if missing:
            raise BioclError(f"esc50.csv lacks the column(s) {', '.join(sorted(missing))}", path=meta)
        rows = list(reader)
    clips, excluded = [], Counter()
    for line, row in enumerate(rows, start=2):
        path = root / "audio" / (row["filename"] or "").strip()
        if not _is_file(path):
            if on_bad == "error":
                raise BioclError(f"row {line} points to a missing file {str(path)[:200]!r}", path=meta)
            excluded["missing file"] += 1
            continue
        clips.append(AudioClip(path=path, label=row["category"].strip().replace("_", " "),
                               caption=_clean(row.get("caption")), group=_clean(row.get("fold"))))
    return clips, excluded


def list_labelled_names(folder: str | Path, *, pattern: str = FSDD_PATTERN,
                        label_names: dict[str, str] | None = None) -> tuple[list[AudioClip], Counter]:
    """List audio files whose names carry the label (default: FSDD ``{digit}_{speaker}_{index}``).

    Parameters
    ----------
    folder : str | Path
        The folder (searched recursively for .wav/.flac/.ogg).
    pattern : str
        A regular expression matched against the file stem, with a ``label`` group and an
        optional ``group`` group.
    label_names : dict | None
        Maps raw labels to names (``{"7": "seven"}``).

    Files whose names do not match are counted under ``"name without a label"``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BioclError("audio folder not found", path=folder,
                         hint="give the folder with --set data.root=PATH")
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise BioclError(f"the file-name pattern {pattern!r} is not a valid regular expression ({err})") from None
    if "label" not in regex.groupindex:
        raise BioclError(f"the file-name pattern {pattern!r} needs a (?P<label>...) group")
    clips, excluded = [], Counter()
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        match = regex.match(path.stem)
        if match is None:
            excluded["name without a label"] += 1
            continue
        raw = match.group("label")
        group = match.group("group") if "group" in regex.groupindex else None
        clips.append(AudioClip(path=path, label=(label_names or {}).get(raw, raw), group=group))
    return clips, excluded


def list_folders(root: str | Path) -> tuple[list[AudioClip], Counter]:
    """List a folder with one sub-folder per class (``sounds/dog/*.wav``); the sub-folder names the label.

    Underscores in a folder name become spaces in the label; hidden folders are skipped.
    """
    root = Path(root)
    if not root.is_dir():
        raise BioclError("audio folder not found", path=root, hint="give the folder with --set data.root=PATH")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise BioclError("no class sub-folders: `folders` expects one sub-folder per class (sounds/dog/*.wav)",
                         path=root, hint="use data.source=labelled_names for a flat folder")
    clips, excluded = [], Counter()
    excluded["file outside a class folder"] += sum(1 for p in root.iterdir() if p.is_file()
                                                   and p.suffix.lower() in AUDIO_SUFFIXES)
    for folder in classes:
        label = folder.name.replace("_", " ")
        clips += [AudioClip(path=path, label=label) for path in sorted(folder.rglob("*"))
                  if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()]
    return clips, +excluded


def load_audio_dataset(root: str | Path, *, layout: Layout, sample_rate_hz: int, on_bad: OnBad = "exclude",
                       silence_dbfs: float = -60.0, min_duration_s: float = 0.0,
                       pattern: str = FSDD_PATTERN, label_names: dict[str, str] | None = None,
                       max_clips_per_label: int | None = None) -> AudioDataset:
    """List and read a data set, excluding (or refusing) bad clips.

    Parameters
    ----------
    root : str | Path
        The manifest CSV (``manifest``) or the data set folder (``esc50``, ``labelled_names``, ``folders``).
    layout : {"manifest", "esc50", "labelled_names", "folders"}
        How the data set is organised (see the module docstring).
    sample_rate_hz : int
        Every clip is resampled to this rate, Hz.
    on_bad : {"exclude", "error"}
        Count bad clips as exclusions, or raise a one-line error naming the first one.
    silence_dbfs : float
        A clip whose RMS level is below this, dBFS, is silent.
    min_duration_s : float
        Clips shorter than this, seconds, are excluded as too short (zero-length clips
        are always excluded).
    pattern, label_names
        For ``labelled_names``: see :func:`list_labelled_names`.
    max_clips_per_label : int | None
        Keep at most this many clips per label, evenly spaced in sorted file order (so
        every speaker or fold keeps some): a deterministic budget for quick runs.

    Returns
    -------
    AudioDataset
        Clips sorted by path, with their waveforms, and the exclusion counts.
    """
    root = Path(root)
    if layout == "manifest":
        listed, excluded = list_manifest(root, on_bad=on_bad)
    elif layout == "esc50":
        listed, excluded = list_esc50(root, on_bad=on_bad)
    elif layout == "labelled_names":
        listed, excluded = list_labelled_names(root, pattern=pattern, label_names=label_names)
    elif layout == "folders":
        listed, excluded = list_folders(root)
    else:
        raise BioclError(f"unknown audio data layout {layout!r}",
                         hint="use manifest, esc50, labelled_names or folders")
    listed.sort(key=lambda clip: str(clip.path))
    dropped_while_listing = sum(excluded.values())
    if max_clips_per_label is not None:
        listed = _evenly_per_label(listed, max_clips_per_label)
    examples: dict[str, list[str]] = {}
    clips = []
    for clip in listed:
        reason = _check_clip(clip, sample_rate_hz, silence_dbfs, min_duration_s)
        if reason is None:
            clips.append(clip)
            continue
        if on_bad == "error":
            raise BioclError(reason, path=clip.path, hint="remove the file or pass on_bad=exclude to skip it")
        key = reason.split(" (")[0]
        excluded[key] += 1
        examples.setdefault(key, []).append(clip.path.name)
    if not clips:
        raise BioclError(f"no usable clips ({sum(excluded.values())} excluded: "
                         f"{', '.join(f'{k} {v}' for k, v in excluded.items()) or 'none listed'})", path=root)
    exclusions = [{"reason": reason, "count": int(count), "unit": "clip", "examples": examples.get(reason, [])[:5]}
                  for reason, count in sorted(excluded.items())]
    return AudioDataset(clips=clips, sample_rate_hz=int(sample_rate_hz), root=root, layout=layout,
                        exclusions=exclusions, n_listed=len(listed) + dropped_while_listing)


def _check_clip(clip: AudioClip, sample_rate_hz: int, silence_dbfs: float, min_duration_s: float) -> str | None:
    """Read one clip into ``clip.waveform``; return why it is unusable, or None."""
    try:
        waveform = read_audio(clip.path, sample_rate_hz)
    except BioclError as err:
        return f"unreadable audio ({err.message})"
    if waveform.size == 0:
        return "zero-length clip (the file holds no samples)"
    if waveform.size < min_duration_s * sample_rate_hz:
        return f"too short (under {min_duration_s} s)"
    level = rms_dbfs(waveform)
    if level < silence_dbfs:
        return f"silent clip (RMS {level:.1f} dBFS, under {silence_dbfs} dBFS)"
    clip.waveform = waveform
    return None


def _evenly_per_label(clips: Iterable[AudioClip], limit: int) -> list[AudioClip]:
    """At most ``limit`` clips per label, evenly spaced in sorted order (so every speaker or fold keeps some)."""
    by_label: dict[str | None, list[AudioClip]] = {}
    for clip in clips:
        by_label.setdefault(clip.label, []).append(clip)
    kept = []
    for group in by_label.values():
        if len(group) <= limit:
            kept += group
        else:
            kept += [group[i] for i in np.linspace(0, len(group) - 1, limit).round().astype(int)]
    return sorted(kept, key=lambda clip: str(clip.path))


@contextlib.contextmanager
def _csv_errors(path: Path) -> Iterator[None]:
    """Turn a table that is not UTF-8 CSV into a one-line error naming the file."""
    try:
        yield
    except (UnicodeDecodeError, csv.Error) as err:
        raise BioclError(f"not a readable CSV table ({err})", path=path,
                         hint="save it as UTF-8 CSV with a header row") from None


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the file system refuses (too long, say)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,31}$")


def _column_names(names: list[str], limit: int = 8) -> str:
    """The header's column names as a message may show them: only ones that look like names, escaped.

    A file that is not a manifest (a password file, say) has a first line that is data, not
    column names; showing it would print the file. Anything that does not look like a
    column name is counted, never shown.
    """
    shown = [repr(name) for name in names if _COLUMN_NAME.match(name)][:limit]
    hidden = len(names) - len(shown)
    parts = shown + ([f"{hidden} other field{'s' if hidden != 1 else ''} not shown"] if hidden else [])
    return ", ".join(parts) or "no columns"


def _first_line(err: Exception) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
