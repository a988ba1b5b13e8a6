"""BIDS data sets of M/EEG recorded while people listen to speech.

:func:`read_bids` finds every MEG/EEG recording of a BIDS (or BIDS-like) folder, reads it
through mne-bids where the layout is valid and falls back to ``mne.io.read_raw`` on the
file the layout names otherwise (EEG saved as FIF, say), and attaches the words of its
``*_events.tsv`` (:func:`parse_events_tsv`). Two ``events.tsv`` styles are understood:

* MEG-MASC (Gwilliams et al. 2022): ``trial_type`` holds a Python dict literal per event
  (``{'kind': 'word', 'word': ..., 'sound': 'stimuli/audio/...', ...}``). It is parsed as a
  *literal* (``ast.literal_eval``), never executed: the paper's code used ``eval``.
* plain columns, as biocl's simulator writes them: ``onset, duration, word, sentence,
  word_index, sound, sound_onset``.
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from biocl.data.meg.recording import Recording, WordEvent, has_positions, stim_triggers, recording_from_raw, sentence_id
from biocl.utils.errors import BioclError

__all__ = ["read_bids", "parse_events_tsv", "find_bids_recordings"]

_RECORDING_NAME = re.compile(r"^(?P<stem>sub-[^/]+?)_(?P<suffix>meg|eeg)(?P<ext>\.[A-Za-z0-9.]+)?$")
_EXTENSIONS = {".fif", ".fif.gz", ".con", ".sqd", ".ds", ".pdf", ".vhdr", ".edf", ".bdf", ".set"}
_MISSING = {"", "n/a", "nan", "none"}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip().lower() in _MISSING


def _as_list(value: str | Iterable[str] | None) -> set[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {value}
    return {str(item) for item in value}


def find_bids_recordings(
    root: str | Path,
    *,
    subjects: str | Iterable[str] | None = None,
    sessions: str | Iterable[str] | None = None,
    tasks: str | Iterable[str] | None = None,
    datatype: str | None = None,
) -> list[tuple[Path, dict[str, str]]]:
    """Every MEG/EEG recording file of a BIDS folder with its entities, sorted by path.

    Recordings are looked for in ``sub-*/meg``, ``sub-*/eeg`` and ``sub-*/ses-*/{meg,eeg}``.
    Only the first part of a split FIF recording is listed (MNE reads the rest with it).

    Parameters
    ----------
    root : str | Path
        The data set root.
    subjects, sessions, tasks : str | iterable of str | None
        Labels to keep; all when None.
    datatype : {"meg", "eeg"} | None
        Keep only this data type.

    Returns
    -------
    list of (Path, dict)
        The recording file (a folder for CTF ``.ds`` and BTi) and its BIDS entities
        (``subject``, ``session``, ``task``, ``run``, ..., plus ``datatype``, ``suffix``,
        ``extension``).
    """
    from mne_bids import get_entities_from_fname

    root = Path(root)
    wanted = {"subject": _as_list(subjects), "session": _as_list(sessions), "task": _as_list(tasks)}
    found = []
    folders = [folder for pattern in ("sub-*/meg", "sub-*/eeg", "sub-*/ses-*/meg", "sub-*/ses-*/eeg")
               for folder in root.glob(pattern)]
    for folder in sorted(folders):
        if not folder.is_dir() or (datatype and folder.name != datatype):
            continue
        for item in sorted(folder.iterdir()):
            match = _RECORDING_NAME.match(item.name)
            if match is None or match["suffix"] != folder.name:
                continue
            extension = (match["ext"] or "").lower()
            if extension not in _EXTENSIONS and not (extension == "" and item.is_dir()):
                continue
            entities = {key: str(value) for key, value in get_entities_from_fname(item.name).items()
                        if value is not None}
            if entities.get("split", "01") not in ("01", "1"):
                continue
            if any(allowed is not None and entities.get(key) not in allowed for key, allowed in wanted.items()):
                continue
            entities.update(datatype=folder.name, suffix=match["suffix"], extension=extension)
            found.append((item, entities))
    return found


def read_bids(
    root: str | Path,
    *,
    subjects: str | Iterable[str] | None = None,
    sessions: str | Iterable[str] | None = None,
    tasks: str | Iterable[str] | None = None,
    datatype: str | None = None,
    require_events: bool = True,
    picks: tuple[str, ...] = ("meg", "eeg"),
    montage: str | None = None,
    min_sfreq_hz: float | None = None,
) -> list[Recording]:
    """Read the MEG/EEG recordings of a BIDS data set, with their word events.

    Parameters
    ----------
    root : str | Path
        The data set's root folder (holding ``sub-*`` folders).
    subjects, sessions, tasks : str | iterable of str | None
        Labels to keep (without the ``sub-``/``ses-``/``task-`` prefix); all by default.
    datatype : {"meg", "eeg"} | None
        Keep only this data type.
    require_events : bool
        If True, every recording must have an ``*_events.tsv`` with at least one word.
    picks, montage, min_sfreq_hz
        As in :func:`biocl.data.meg.recording.read_recording`.

    Returns
    -------
    list of Recording
        Sorted by subject, session, task, run. ``session`` is ``"0"`` and ``task`` is
        ``"task"`` when the file names have none. Bad channels come from
        ``*_channels.tsv`` (``status`` column) as well as from the file.

    Raises
    ------
    BioclError
        If the root is missing or holds no matching recording, an ``events.tsv`` is missing
        (``require_events``) or names an audio file that does not exist, or a recording
        cannot be read (see ``read_recording``).
    """
    root = Path(root)
    if not root.is_dir():
        raise BioclError("no such BIDS folder", path=root, hint="give the data set's root (the folder holding sub-*)")
    found = find_bids_recordings(root, subjects=subjects, sessions=sessions, tasks=tasks, datatype=datatype)
    if not found:
        raise BioclError("no MEG/EEG recording found in the BIDS folder", path=root,
                         hint="expected sub-XX/[ses-YY/]meg|eeg/sub-XX_[ses-YY_]task-ZZ_meg.fif (or .con, .sqd, "
                              ".ds, .vhdr, .edf, .bdf, .set); check the subjects/sessions/tasks filters")
    recordings = []
    for path, entities in found:
        events_path = _sidecar(path, "events.tsv")
        if events_path.exists():
            events = parse_events_tsv(events_path, bids_root=root)
        elif require_events:
            raise BioclError("the recording has no events.tsv", path=events_path,
                             hint="word events are needed to decode speech; pass require_events=False to read "
                                  "recordings without them")
        else:
            events = []
        if require_events and not events:
            raise BioclError("the events.tsv holds no word event", path=events_path,
                             hint="expected rows with a word (kind 'word' in MEG-MASC's trial_type, or a word column)")
        raw = _open_raw(path, entities, root)
        _check_events_fit(events, raw, events_path)
        recordings.append(recording_from_raw(
            raw, path, subject=entities.get("subject", "01"), session=entities.get("session", "0"),
            task=entities.get("task", "task"), events=events, picks=picks, montage=montage,
            triggers=stim_triggers(raw, path), min_sfreq_hz=min_sfreq_hz,
        ))
    return recordings


def _check_events_fit(events: list, raw: Any, events_path: Path) -> None:
    """Refuse a recording whose word events all start after it ends (none can give a window).

    Some late events among others are left to the windowing, which drops windows past the end.
    """
    duration_s = raw.n_times / raw.info["sfreq"]  # BIDS onsets count from the first sample
    late = [event for event in events if event.onset_s >= duration_s]
    if events and len(late) == len(events):
        raise BioclError(f"all {len(events)} word events start after the recording ends (at "
                         f"{duration_s:.1f} s; the first late one at {late[0].onset_s:.1f} s)", path=events_path,
                         hint="the events belong to another recording, or their onsets are in samples or "
                              "milliseconds rather than seconds")


def _sidecar(path: Path, suffix_and_extension: str) -> Path:
    stem = _RECORDING_NAME.match(path.name)["stem"]
    stem = re.sub(r"_split-[0-9]+", "", stem)
    return path.parent / f"{stem}_{suffix_and_extension}"


def _open_raw(path: Path, entities: dict[str, str], root: Path) -> Any:
    import mne
    from mne_bids import BIDSPath, read_raw_bids

    keys = ("subject", "session", "task", "acquisition", "run", "processing", "recording", "space", "split",
            "description")
    try:
        bids_path = BIDSPath(root=root, datatype=entities["datatype"], suffix=entities["suffix"],
                             extension=entities["extension"] or None,
                             **{key: entities[key] for key in keys if key in entities})
        raw = read_raw_bids(bids_path, verbose="error")
    except Exception:  # an invalid BIDS layout (EEG saved as FIF, say): read the file it names instead
        try:
            raw = mne.io.read_raw(path, preload=False, verbose="error")
        except Exception as exc:  # MNE's readers raise many types for a damaged file
            raise BioclError(f"cannot read the recording ({type(exc).__name__}: {exc})", path=path,
                             hint="check the file is complete and in a format MNE reads") from exc
        channels_path = _sidecar(path, "channels.tsv")
        if channels_path.exists():
            rows = _read_tsv(channels_path)
            bads = [row["name"] for row in rows if str(row.get("status", "")).strip().lower() == "bad"
                    and row.get("name") in raw.ch_names]
            raw.info["bads"] = sorted(set(raw.info["bads"]) | set(bads))
    if not has_positions(raw.info).any():
        _read_electrodes(path, entities, raw)
    return raw


def _read_electrodes(path: Path, entities: dict[str, str], raw: Any) -> None:
    """Place EEG channels from the recording's ``*_electrodes.tsv``.

    mne-bids skips electrode files when several match a recording (one per ``space-``);
    the one without a space entity, else the first by name, is used here.
    """
    import json

    import mne

    prefix = "_".join(f"{short}-{entities[key]}" for key, short in (("subject", "sub"), ("session", "ses"))
                      if key in entities)
    candidates = sorted(path.parent.glob(f"{prefix}*_electrodes.tsv"), key=lambda p: ("_space-" in p.name, p.name))
    if not candidates:
        return
    electrodes = candidates[0]
    coordsystem = electrodes.with_name(electrodes.name.replace("_electrodes.tsv", "_coordsystem.json"))
    scale = 1.0
    if coordsystem.exists():
        units = json.loads(coordsystem.read_text(encoding="utf-8")).get("EEGCoordinateUnits", "m")
        scale = {"m": 1.0, "cm": 1e-2, "mm": 1e-3}.get(str(units).lower(), 1.0)
    positions = {}
    for row in _read_tsv(electrodes):
        try:
            xyz = np.array([float(row["x"]), float(row["y"]), float(row["z"])]) * scale
        except (KeyError, TypeError, ValueError):
            continue
        if row.get("name") in raw.ch_names and np.isfinite(xyz).all():
            positions[row["name"]] = xyz
    if positions:
        # Only the geometry matters for the 2-D projection, so the head frame is assumed.
        montage = mne.channels.make_dig_montage(ch_pos=positions, coord_frame="head")
        raw.set_montage(montage, on_missing="ignore", verbose="error")


def _read_tsv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t")
            rows = list(reader)
            columns = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BioclError(f"not a readable tab-separated table ({exc})", path=path,
                         hint="BIDS .tsv files are UTF-8 text with tab-separated columns") from None
    if "onset" not in columns and path.name.endswith("_events.tsv"):
        raise BioclError("the events.tsv has no onset column", path=path, hint="BIDS events need onset and duration")
    return rows


def parse_events_tsv(path: str | Path, bids_root: str | Path | None = None) -> list[WordEvent]:
    """The word events of a BIDS ``*_events.tsv``, in onset order.

    Parameters
    ----------
    path : str | Path
        The events file.
    bids_root : str | Path | None
        Root against which sound paths are resolved (MEG-MASC: ``stimuli/audio/...``);
        the events file's folder by default.

    Returns
    -------
    list of WordEvent
        Only words (MEG-MASC rows of kind ``"word"``; plain rows with a word).

    Raises
    ------
    BioclError
        If the file is missing, a ``trial_type`` is not a valid literal, or an event names
        an audio file that does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise BioclError("no such events.tsv", path=path, hint="each recording needs its *_events.tsv beside it")
    root = Path(bids_root) if bids_root is not None else path.parent
    rows = _read_tsv(path)
    if rows and "word" in rows[0]:
        events = _plain_word_events(rows, path, root)
    else:
        events = _literal_word_events(rows, path, root)
    return sorted(events, key=lambda event: event.onset_s)


def _float(value: Any, default: float = float("nan"), *, path: Path, line: int, column: str) -> float:
    if _is_missing(value):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BioclError(f"line {line}: {column} {_shown(value)} is not a number", path=path,
                         hint="onsets, durations and indices are numbers (n/a when unknown)") from None


def _onset(value: Any, path: Path, line: int) -> float:
    onset = _float(value, path=path, line=line, column="onset")
    if not np.isfinite(onset):
        raise BioclError(f"line {line}: the event has no finite onset ({_shown(value)})", path=path,
                         hint="every word event needs its onset in seconds")
    return onset


def _index(value: Any, default: int, path: Path, line: int) -> int:
    number = _float(value, float(default), path=path, line=line, column="word_index")
    if not np.isfinite(number) or number != int(number):
        raise BioclError(f"line {line}: word_index {_shown(value)} is not a whole number", path=path)
    return int(number)


def _plain_word_events(rows: list[dict[str, str]], path: Path, root: Path) -> list[WordEvent]:
    sounds = _SoundResolver(root, path)
    events, position_in_sentence = [], {}
    for line, row in enumerate(rows, start=2):
        trial_type = str(row.get("trial_type") or "word").strip().lower()
        if _is_missing(row.get("word")) or trial_type not in ("word", "n/a", ""):
            continue
        sound = None if _is_missing(row.get("sound")) else sounds.resolve(row["sound"])
        sentence = row.get("sentence")
        if _is_missing(sentence):
            sentence = f"{sound.stem if sound else path.stem}"
        index = position_in_sentence.get(sentence, 0)
        position_in_sentence[sentence] = index + 1
        events.append(WordEvent(
            onset_s=_onset(row.get("onset"), path, line),
            duration_s=_float(row.get("duration"), 0.0, path=path, line=line, column="duration"),
            word=row["word"].strip(), word_index=_index(row.get("word_index"), index, path, line),
            sentence_id=sentence_id(sentence), sentence=sentence, sound_file=sound,
            sound_onset_s=_float(row.get("sound_onset"), path=path, line=line, column="sound_onset"),
        ))
    return events


class _NanNames(ast.NodeTransformer):
    """Turn the bare names ``nan``/``inf`` that pandas writes into float constants."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ("nan", "NaN", "inf"):
            return ast.copy_location(ast.Constant(float(node.id)), node)
        return node


def _literal(text: str, path: Path, line: int) -> Any:
    try:
        tree = _NanNames().visit(ast.parse(text.strip(), mode="eval"))
        return ast.literal_eval(tree.body)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise BioclError(f"line {line}: trial_type is not a Python literal ({exc})", path=path,
                         hint="MEG-MASC style events hold a dict literal such as {'kind': 'word', 'word': 'the'}") from exc


def _literal_word_events(rows: list[dict[str, str]], path: Path, root: Path) -> list[WordEvent]:
    sounds = _SoundResolver(root, path)
    sound_starts: dict[str, float] = {}
    words = []
    for line, row in enumerate(rows, start=2):
        text = str(row.get("trial_type") or "")
        if not text.lstrip().startswith("{"):
            continue
        description = _literal(text, path, line)
        if not isinstance(description, dict):
            continue
        onset = _onset(row.get("onset"), path, line)
        kind = str(description.get("kind", "")).lower()
        if kind == "sound" and not _is_missing(description.get("sound")):
            sound_starts[str(description["sound"])] = onset
        if kind != "word" or _is_missing(description.get("word")):
            continue
        duration = _float(row.get("duration"), 0.0, path=path, line=line, column="duration")
        words.append((onset, duration, description, line))
    groups: dict[tuple, list[int]] = {}
    for i, (_, _, description, _) in enumerate(words):
        # repr: the literal's values may be lists or dicts, which cannot key a dict.
        key = tuple(repr(value) for value in (description.get("story"),
                                              description.get("sound_id", description.get("sound")),
                                              description.get("sequence_id")))
        groups.setdefault(key, []).append(i)
    events = []
    for key, members in groups.items():
        members.sort(key=lambda i: words[i][0])
        text = " ".join(str(words[i][2]["word"]) for i in members)
        for position, i in enumerate(members):
            onset, duration, description, line = words[i]
            sound_name = description.get("sound")
            sound = None if _is_missing(sound_name) else sounds.resolve(str(sound_name))
            # The sound's own event gives the word's place in the file without trusting a
            # per-word field whose reference differs between data set versions.
            if not _is_missing(sound_name) and str(sound_name) in sound_starts:
                sound_onset = onset - sound_starts[str(sound_name)]
            else:
                sound_onset = _float(description.get("start"), path=path, line=line, column="start")
            index = description.get("word_index")
            events.append(WordEvent(
                onset_s=onset, duration_s=duration, word=str(description["word"]).strip(),
                word_index=_index(index, position, path, line), sentence_id=sentence_id(text),
                sentence=text, sound_file=sound, sound_onset_s=sound_onset,
            ))
    return events


class _SoundResolver:
    """Find the audio file an event names, relative to the data set root; cache the answer."""

    def __init__(self, root: Path, events_path: Path):
        self.root = root
        self.events_path = events_path
        self._known: dict[str, Path] = {}

    def resolve(self, name: str) -> Path:
        if name in self._known:
            return self._known[name]
        relative = name.strip().lstrip("/")
        candidates = [self.root / relative, self.root / relative.lower()]
        # MEG-MASC names some sounds 'stimuli/audio/story_0.0.wav' for the file story_0.wav.
        parts = relative.lower().rsplit(".", 2)
        if len(parts) == 3:
            candidates.append(self.root / f"{parts[0]}.{parts[2]}")
        for candidate in candidates:
            if _is_file(candidate):
                self._known[name] = candidate
                return candidate
        raise BioclError(f"an event names the audio file {name!r}, which does not exist under {self.root}",
                         path=self.events_path,
                         hint="put the stimuli where the events say (e.g. <root>/stimuli/audio/) or fix the sound column")


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the file system refuses (too long, say)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _shown(value: object, limit: int = 40) -> str:
    """A cell of the events table as a message shows it: escaped and cut to ``limit`` characters."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")
