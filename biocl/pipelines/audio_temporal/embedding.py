"""Embedding whole audio files or captions with a saved model (`biocl audio embed`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biocl.utils.errors import BioclError

__all__ = ["embed_inputs"]


def embed_inputs(model_dir: str | Path, inputs: Sequence[str], out: str | Path, *, text: bool = False
                 ) -> dict[str, Any]:
    """L2-normalised embeddings of whole audio files (never cropped) or of captions, written to ``out``.

    Clips of equal length are embedded together; rows follow the input order.

    Parameters
    ----------
    model_dir : str | Path
        A biocl model folder (a run's ``model/``).
    inputs : sequence of str
        Audio files (WAV/FLAC/OGG, read at the model's sample rate), or captions with ``text``.
    out : str | Path
        Embeddings file; ``.npy`` is appended when missing, the inputs are listed in
        ``<out>.ids.txt``.
    text : bool
        The inputs are captions, not files.

    Returns
    -------
    dict
        ``embeddings`` and ``ids`` (paths), ``n``, ``dim`` and ``kind`` (``"audio"`` or ``"text"``).

    Raises
    ------
    BioclError
        When a file is unreadable or holds a zero-length clip.
    """
    from biocl.data.audio.reading import read_audio
    from biocl.encoders.clap import load_clap
    from biocl.utils.console import warn
    from biocl.utils.io import atomic_path, write_text

    clap = load_clap(model_dir)
    notes: list[str] = []
    if text:
        embeddings = clap.embed_text(list(inputs))
    else:
        clips = []
        for path in inputs:
            waveform = read_audio(path, clap.sample_rate_hz)
            if waveform.size == 0:
                raise BioclError("zero-length clip: nothing to embed", path=path)
            window = int(getattr(clap.audio, "n_fft", 0) or 0)
            if waveform.size < window:
                notes.append(f"{path}: the clip holds {waveform.size} sample{'s' if waveform.size != 1 else ''} "
                             f"({1000 * waveform.size / clap.sample_rate_hz:.2g} ms), less than one analysis window "
                             f"({window} samples): its embedding is mostly padding")
                warn(notes[-1])
            clips.append(waveform)
        embeddings = np.zeros((len(clips), clap.embed_dim), dtype=np.float32)
        for length in sorted({len(c) for c in clips}):
            rows = [i for i, c in enumerate(clips) if len(c) == length]
            embeddings[rows] = clap.embed_audio([clips[i] for i in rows])
    out = Path(out)
    out = out if out.suffix == ".npy" else out.with_name(out.name + ".npy")
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, embeddings)
    ids = out.with_suffix(".ids.txt")
    write_text(ids, "".join(f"{name}\n" for name in inputs))
    return {"embeddings": str(out), "ids": str(ids), "n": len(inputs), "dim": int(embeddings.shape[1]),
            "kind": "text" if text else "audio", "warnings": notes}
