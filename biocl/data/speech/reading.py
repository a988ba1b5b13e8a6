"""Speech audio and its word timings, as the decoders read them.

* :func:`read_speech`: any file soundfile reads, as mono float32, resampled with torchaudio.
* :func:`read_word_timings`: word timings of the LibriVox/pocketsphinx JSON files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import torch

from biocl.utils.errors import BioclError

__all__ = ["read_speech", "read_word_timings"]


def read_speech(path: str | Path, sfreq_hz: int = 16000) -> torch.Tensor:
    """Read an audio file as a mono float32 waveform at ``sfreq_hz``.

    Parameters
    ----------
    path : str | Path
        Any file soundfile reads (WAV, FLAC, OGG, ...).
    sfreq_hz : int
        Sampling rate of the result, in Hz; the file is resampled with torchaudio when it
        differs (band-limited sinc interpolation).

    Returns
    -------
    torch.Tensor
        ``(T,)`` float32, channels averaged.

    Raises
    ------
    BioclError
        If the file is missing, unreadable or empty.
    """
    import soundfile
    import torchaudio.functional

    path = Path(path)
    if not path.is_file():
        raise BioclError("no such audio file", path=path, hint="check the path of the stimulus")
    try:
        data, file_sfreq = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, ValueError) as exc:
        raise BioclError(f"cannot read the audio file ({exc})", path=path,
                         hint="expected a WAV/FLAC/OGG file that soundfile can open") from exc
    if data.shape[0] == 0:
        raise BioclError("the audio file holds no samples", path=path, hint="replace it with the full recording")
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if int(file_sfreq) != int(sfreq_hz):
        wave = torchaudio.functional.resample(wave, int(file_sfreq), int(sfreq_hz))
    return wave.to(torch.float32)


_VARIANT = re.compile(r"\(\d+\)$")
_NON_WORDS = {"<sil>", "<s>", "</s>", "[noise]", "<noise>", "[laughter]", "++garbage++"}


def read_word_timings(json_path: str | Path) -> list[tuple[str, float, float]]:
    """Word timings of a LibriVox/pocketsphinx alignment JSON.

    Parameters
    ----------
    json_path : str | Path
        A JSON object whose ``w`` list holds ``{"b": begin_s, "d": duration_s, "t": word}``.

    Returns
    -------
    list of (word, onset_s, duration_s)
        In order; silences (``<sil>``, ``<s>``, ``</s>``) dropped and pronunciation variant
        marks (``was(2)``) stripped.

    Raises
    ------
    BioclError
        If the file is missing or not such a JSON.
    """
    json_path = Path(json_path)
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
        entries = document["w"]
        words = [(_VARIANT.sub("", str(entry["t"])).strip(), float(entry["b"]), float(entry["d"]))
                 for entry in entries]
    except FileNotFoundError as exc:
        raise BioclError("no such word-timing file", path=json_path, hint="check the path") from exc
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BioclError(f"not a word-timing JSON ({exc})", path=json_path,
                         hint='expected {"w": [{"b": begin_s, "d": duration_s, "t": word}, ...]}') from exc
    return [(word, onset, duration) for word, onset, duration in words
            if word and word.lower() not in _NON_WORDS]
