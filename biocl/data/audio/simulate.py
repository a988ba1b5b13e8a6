"""Simulated sound events written in the ESC-50 layout, so the demo runs the real reader.

Twelve named classes of synthetic sound events, each a different kind of signal:
tones (low, high), chirps (rising, falling), noise (bursts, hiss, rumble), a harmonic
stack, click trains, beeps, and amplitude- and frequency-modulated tones. Every instance
varies in pitch (or band), duration, onset and level, and carries faint background noise,
so no two clips are identical and classification is not trivial.

The folder written looks like ESC-50::

    ROOT/meta/esc50.csv   filename, fold, target, category, esc10, src_file, take, caption
    ROOT/audio/<fold>-<src_file>-<take>-<target>.wav   16-bit PCM mono
    ROOT/simulation.json  the parameters, the seed and a SHA-256 of the files

and is read back with :func:`biocl.data.audio.reading.load_audio_dataset` (``layout="esc50"``).
The same parameters and seed always give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from biocl.utils.errors import BioclError
from biocl.utils.io import sha256_files

__all__ = ["SOUND_CLASSES", "synthesize", "simulate_sound_events", "simulation_summary"]

_Synth = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _tone(f_lo: float, f_hi: float) -> _Synth:
    def synth(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        f0 = rng.uniform(f_lo, f_hi)
        return np.sin(2 * np.pi * f0 * t + rng.uniform(0, 2 * np.pi))
    return synth


def _chirp(rising: bool) -> _Synth:
    def synth(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        lo, hi = rng.uniform(250, 450), rng.uniform(2500, 3500)
        f_start, f_end = (lo, hi) if rising else (hi, lo)
        # Exponential sweep: the instantaneous frequency moves at a constant rate in octaves.
        k = np.log(f_end / f_start) / duration_s
        return np.sin(2 * np.pi * f_start * (np.exp(k * t) - 1) / k)
    return synth


def _noise(band: str) -> _Synth:
    def synth(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
        white = rng.standard_normal(t.size)
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(t.size, d=(t[1] - t[0]) if t.size > 1 else 1.0)
        if band == "high":
            spectrum[freqs < rng.uniform(2000, 3000)] = 0
        elif band == "low":
            spectrum[freqs > rng.uniform(150, 300)] = 0
        out = np.fft.irfft(spectrum, n=t.size)
        if band == "burst":
            out = white * np.exp(-t / rng.uniform(0.03, 0.08))
        return out / (np.max(np.abs(out)) + 1e-12)
    return synth


def _harmonic_stack(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    f0 = rng.uniform(140, 260)
    return sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))


def _clicks(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    rate_hz = rng.uniform(8, 14)
    phase = (t * rate_hz) % 1.0
    return np.exp(-phase / (0.004 * rate_hz)) * np.sign(np.sin(2 * np.pi * 3000 * t))


def _beeps(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    rate_hz = rng.uniform(3, 5)
    gate = ((t * rate_hz) % 1.0) < 0.45
    return gate * np.sin(2 * np.pi * rng.uniform(900, 1300) * t)


def _am_tone(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    carrier = np.sin(2 * np.pi * rng.uniform(500, 800) * t)
    return carrier * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(10, 16) * t))


def _fm_tone(t: np.ndarray, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    fc, depth, rate = rng.uniform(1500, 2000), rng.uniform(300, 500), rng.uniform(5, 8)
    return np.sin(2 * np.pi * fc * t + (depth / rate) * np.sin(2 * np.pi * rate * t))


# Name -> generator; the names are the categories written to esc50.csv and used in captions.
# One word each, as most ESC-50 categories are, so a caption's word positions do not
# depend on which classes it names.
SOUND_CLASSES: dict[str, _Synth] = {
    "hum": _tone(180, 320),                    # low pure tone
    "whistle": _tone(2600, 3400),              # high pure tone
    "upsweep": _chirp(rising=True),            # rising exponential chirp
    "downsweep": _chirp(rising=False),         # falling exponential chirp
    "burst": _noise("burst"),                  # decaying white-noise burst
    "drone": _harmonic_stack,                  # harmonic stack, 7 partials
    "clicks": _clicks,                         # click train, 8-14 Hz
    "hiss": _noise("high"),                    # high-passed noise
    "tremolo": _am_tone,                       # amplitude-modulated tone
    "vibrato": _fm_tone,                       # frequency-modulated tone
    "rumble": _noise("low"),                   # low-passed noise
    "beeps": _beeps,                           # gated tone, 3-5 beeps per second
}


def synthesize(name: str, clip_s: float, sample_rate_hz: int, rng: np.random.Generator) -> np.ndarray:
    """One instance of a sound class: an event of random duration, onset and level in a clip.

    Parameters
    ----------
    name : str
        A key of :data:`SOUND_CLASSES`.
    clip_s : float
        Clip length, seconds. The event lasts 40-90 % of it.
    sample_rate_hz : int
        Sample rate, Hz (at least 8 kHz so every class fits below Nyquist).
    rng : np.random.Generator
        The source of the instance's variation.

    Returns
    -------
    np.ndarray of shape (round(clip_s * sample_rate_hz),)
        float32 samples, event RMS between -32 and -16 dBFS, background noise at -70 dBFS.
    """
    if name not in SOUND_CLASSES:
        raise BioclError(f"unknown simulated sound class {name!r}; known: {', '.join(SOUND_CLASSES)}")
    n = int(round(clip_s * sample_rate_hz))
    duration_s = rng.uniform(0.4, 0.9) * clip_s
    n_event = max(int(duration_s * sample_rate_hz), 2)
    t = np.arange(n_event) / sample_rate_hz
    event = np.asarray(SOUND_CLASSES[name](t, duration_s, rng), dtype=np.float64)
    ramp = min(int(0.01 * sample_rate_hz), n_event // 2)
    envelope = np.ones(n_event)
    envelope[:ramp] = np.linspace(0, 1, ramp)
    envelope[n_event - ramp:] = np.linspace(1, 0, ramp)
    event *= envelope
    event *= 10 ** (rng.uniform(-32, -16) / 20) / (np.sqrt(np.mean(event ** 2)) + 1e-12)
    clip = rng.standard_normal(n) * 10 ** (-70 / 20)
    onset = int(rng.integers(0, n - n_event + 1))
    clip[onset:onset + n_event] += event
    return np.clip(clip, -1, 1).astype(np.float32)


def simulate_sound_events(out_dir: str | Path, *, n_classes: int = 10, clips_per_class: int = 30,
                          clip_s: float = 1.0, sample_rate_hz: int = 16000, seed: int = 0,
                          caption_template: str = "this is a sound of {a}", overwrite: bool = False) -> dict:
    """Write a simulated sound-event data set in the ESC-50 layout.

    Parameters
    ----------
    out_dir : str | Path
        The folder to create (``meta/``, ``audio/``, ``simulation.json``). It is written
        in a temporary folder and renamed, so a crash never leaves half a data set.
    n_classes : int
        How many classes of :data:`SOUND_CLASSES` to use (the first ``n_classes``), 2 to 12.
    clips_per_class : int
        Clips per class, spread over the five ESC-50 folds.
    clip_s : float
        Length of every clip, seconds.
    sample_rate_hz : int
        Sample rate of the WAV files, Hz.
    seed : int
        Seed of the numpy Generator; the same arguments give byte-identical files.
    caption_template : str
        Caption of each clip, with the placeholder ``{a}`` for the class name.
    overwrite : bool
        Replace an existing folder; otherwise an existing folder is an error.

    Returns
    -------
    dict
        The content of ``simulation.json``: parameters, classes, counts and ``sha256``.
    """
    from biocl.utils.templates import fill_template

    import soundfile

    out_dir = Path(out_dir)
    if not 2 <= n_classes <= len(SOUND_CLASSES):
        raise BioclError(f"n_classes must be between 2 and {len(SOUND_CLASSES)} (got {n_classes})")
    if clips_per_class < 1 or clip_s <= 0 or sample_rate_hz < 8000:
        raise BioclError("clips_per_class must be >= 1, clip_s > 0 and sample_rate_hz >= 8000")
    if out_dir.exists() and not overwrite:
        raise BioclError("the output folder already exists", path=out_dir, hint="pass --overwrite or another folder")
    classes = list(SOUND_CLASSES)[:n_classes]
    rng = np.random.default_rng(seed)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)
    try:
        (staging / "audio").mkdir()
        (staging / "meta").mkdir()
        rows = []
        for target, name in enumerate(classes):
            for take in range(clips_per_class):
                fold = take % 5 + 1
                filename = f"{fold}-{100 * target + take:06d}-A-{target}.wav"
                samples = synthesize(name, clip_s, sample_rate_hz, rng)
                soundfile.write(str(staging / "audio" / filename), samples, sample_rate_hz, subtype="PCM_16")
                rows.append({"filename": filename, "fold": fold, "target": target, "category": name,
                             "esc10": "False", "src_file": f"{100 * target + take:06d}", "take": "A",
                             "caption": fill_template(caption_template, name.replace("_", " "))})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (staging / "meta" / "esc50.csv").write_text(buffer.getvalue(), encoding="utf-8")
        files = sorted((staging / "audio").glob("*.wav")) + [staging / "meta" / "esc50.csv"]
        summary = {
            "simulated": True,
            "description": f"simulated sound events: {n_classes} synthetic classes x {clips_per_class} clips "
                           f"of {clip_s} s at {sample_rate_hz} Hz, ESC-50 layout",
            "generator": "biocl.data.audio.simulate",
            "classes": classes,
            "n_classes": n_classes,
            "clips_per_class": clips_per_class,
            "n_clips": len(rows),
            "clip_s": clip_s,
            "sample_rate_hz": sample_rate_hz,
            "seed": seed,
            "caption_template": caption_template,
            "sha256": sha256_files(files, root=staging),
        }
        (staging / "simulation.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return summary


def simulation_summary(root: str | Path) -> dict | None:
    """The ``simulation.json`` of a simulated folder, or None when the folder is not one."""
    path = Path(root) / "simulation.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
