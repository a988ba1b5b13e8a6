"""The features of speech audio the brain is decoded against, all at 120 Hz.

* :func:`mel_features`: 120-band log10 mel spectrogram (the paper's mel baseline).
* :func:`envelope_features`: the Hilbert amplitude envelope.
* :func:`wav2vec_features`: mean of wav2vec 2.0 hidden layers 14-18 from a local checkpoint.
* :func:`standardise` / :class:`Standardiser`: one global mean and standard deviation.

Every feature function returns ``(n_features, T)`` float32 with ``T = floor(duration_s *
out_sfreq_hz)``; frame ``k`` describes the audio around ``k / out_sfreq_hz`` seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biocl.utils.errors import BioclError
from biocl.utils.imports import soft_import

__all__ = [
    "mel_features",
    "envelope_features",
    "wav2vec_features",
    "standardise",
    "Standardiser",
    "n_frames",
]

_LOG_EPS = 1e-5


def n_frames(n_samples: int, sfreq_hz: float, out_sfreq_hz: float = 120.0) -> int:
    """Number of output frames for ``n_samples`` at ``sfreq_hz``: ``floor(duration_s * out_sfreq_hz)``."""
    return int(math.floor(n_samples * out_sfreq_hz / sfreq_hz + 1e-9))


def _as_numpy(wave: Any) -> np.ndarray:
    array = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 2:
        array = array.mean(axis=0)
    if array.ndim != 1:
        raise ValueError(f"expected a mono wave (T,) or (channels, T), got shape {array.shape}")
    return array


def _interpolate_frames(frames: np.ndarray, frame_times_s: np.ndarray, n_out: int, out_sfreq_hz: float) -> np.ndarray:
    """Linear interpolation of ``(F, n)`` frames at ``frame_times_s`` onto ``k / out_sfreq_hz``."""
    targets = np.arange(n_out) / out_sfreq_hz
    position = np.interp(targets, frame_times_s, np.arange(len(frame_times_s), dtype=float))
    left = np.floor(position).astype(int)
    right = np.minimum(left + 1, len(frame_times_s) - 1)
    weight = (position - left)[None, :]
    return (frames[:, left] * (1.0 - weight) + frames[:, right] * weight).astype(np.float32)


def mel_features(
    wave: Any,
    sfreq_hz: float,
    *,
    n_mels: int = 120,
    n_fft: int = 512,
    out_sfreq_hz: float = 120.0,
) -> np.ndarray:
    """Log10 mel spectrogram with frames at exactly ``k / out_sfreq_hz`` seconds.

    Parameters
    ----------
    wave : array-like or torch.Tensor
        ``(T,)`` mono waveform (``(channels, T)`` is averaged).
    sfreq_hz : float
        Its sampling rate, in Hz.
    n_mels : int
        Number of mel bands (the paper: 120), spanning 0 Hz to ``sfreq_hz / 2``.
    n_fft : int
        FFT size in samples (the paper: 512, i.e. 32 ms at 16 kHz), Hann window.
    out_sfreq_hz : float
        Output frame rate, in Hz.

    Returns
    -------
    np.ndarray
        ``(n_mels, floor(duration_s * out_sfreq_hz))`` float32 ``log10(power + 1e-5)``.

    Notes
    -----
    torchaudio computes centred frames with an integer hop of ``floor(sfreq_hz /
    out_sfreq_hz)`` samples (133 at 16 kHz); the mel power is then linearly interpolated
    onto the exact ``1 / out_sfreq_hz`` grid, so frames never drift against the brain
    signal however long the file. At 16 kHz with ``n_fft=512`` the lowest of 120 bands holds
    no FFT bin and stays at ``log10(1e-5)``, as in the paper's setting.
    """
    import warnings

    import torchaudio.transforms

    samples = _as_numpy(wave)
    n_out = n_frames(len(samples), sfreq_hz, out_sfreq_hz)
    if n_out == 0:
        return np.zeros((n_mels, 0), dtype=np.float32)
    hop = max(1, int(sfreq_hz // out_sfreq_hz))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="At least one mel filterbank has all zero values")
        transform = torchaudio.transforms.MelSpectrogram(
            sample_rate=int(round(sfreq_hz)), n_fft=n_fft, hop_length=hop, n_mels=n_mels, center=True, power=2.0,
        )
    with torch.no_grad():
        power = transform(torch.from_numpy(samples)).numpy().astype(np.float64)
    frame_times = np.arange(power.shape[1]) * hop / sfreq_hz
    return np.log10(_interpolate_frames(power, frame_times, n_out, out_sfreq_hz) + _LOG_EPS).astype(np.float32)


def envelope_features(wave: Any, sfreq_hz: float, *, out_sfreq_hz: float = 120.0) -> np.ndarray:
    """Amplitude envelope: magnitude of the analytic signal, low-passed and resampled.

    Parameters
    ----------
    wave : array-like or torch.Tensor
        ``(T,)`` mono waveform.
    sfreq_hz : float
        Its sampling rate, in Hz.
    out_sfreq_hz : float
        Output rate, in Hz.

    Returns
    -------
    np.ndarray
        ``(1, floor(duration_s * out_sfreq_hz))`` float32, in the wave's amplitude units.

    Notes
    -----
    ``|hilbert(wave)|`` is resampled with a polyphase filter (``scipy.signal.resample_poly``,
    Kaiser window), whose anti-alias low-pass keeps what lies below ``out_sfreq_hz / 2``
    (60 Hz at 120 Hz): the slow modulations the auditory cortex follows.
    """
    from scipy.signal import hilbert, resample_poly

    samples = _as_numpy(wave).astype(np.float64)
    n_out = n_frames(len(samples), sfreq_hz, out_sfreq_hz)
    if n_out == 0:
        return np.zeros((1, 0), dtype=np.float32)
    envelope = np.abs(hilbert(samples, N=_fast_length(len(samples)))[: len(samples)])
    ratio = Fraction(out_sfreq_hz / sfreq_hz).limit_denominator(2000)
    resampled = resample_poly(envelope, ratio.numerator, ratio.denominator, padtype="line")
    if len(resampled) < n_out:
        resampled = np.pad(resampled, (0, n_out - len(resampled)), mode="edge")
    return np.maximum(resampled[:n_out], 0.0)[None, :].astype(np.float32)


def _fast_length(n: int) -> int:
    from scipy.fft import next_fast_len

    return next_fast_len(n)


def wav2vec_features(
    wave: Any,
    sfreq_hz: float,
    checkpoint_dir: str | Path,
    *,
    layers: tuple[int, int] = (14, 18),
    out_sfreq_hz: float = 120.0,
    device: str = "cpu",
    trust_remote_code: bool = False,
    chunk_s: float | None = None,
) -> np.ndarray:
    """Mean of wav2vec 2.0 hidden layers from a local Hugging Face checkpoint, at 120 Hz.

    Parameters
    ----------
    wave : array-like or torch.Tensor
        ``(T,)`` mono waveform; resampled to 16 kHz (the rate wav2vec 2.0 was trained at).
    sfreq_hz : float
        Its sampling rate, in Hz.
    checkpoint_dir : str | Path
        A local folder written by ``save_pretrained`` (``config.json`` + weights), e.g.
        ``facebook/wav2vec2-large-xlsr-53`` downloaded beforehand. Nothing is downloaded.
    layers : (int, int)
        First and last hidden layer averaged, **both included**. Layer 0 is the output of
        the convolutional feature encoder's projection (the transformer's input); layer
        ``l >= 1`` is the output of transformer block ``l``. The paper: (14, 18) of XLSR-53.
    out_sfreq_hz : float
        Output rate, in Hz.
    device : str
        Torch device for the model.
    trust_remote_code : bool
        Passed to ``from_pretrained``; leave False unless you trust the folder's code.
    chunk_s : float | None
        Encode the audio in chunks of this many seconds (with 1 s of context either side)
        to bound memory on long files; the whole file at once when None.

    Returns
    -------
    np.ndarray
        ``(hidden_size, floor(duration_s * out_sfreq_hz))`` float32. wav2vec frames (20 ms
        stride, centred 12.5 ms after their start) are linearly interpolated to 120 Hz.

    Raises
    ------
    BioclError
        If transformers is not installed (names the ``biocl[hf]`` extra), the folder is
        missing or not a wav2vec 2.0 checkpoint, or the layer range does not exist.
    """
    checkpoint_dir = Path(checkpoint_dir)
    transformers = soft_import("transformers", "computing wav2vec 2.0 features", path=checkpoint_dir)
    if not (checkpoint_dir / "config.json").is_file():
        raise BioclError("no wav2vec 2.0 checkpoint here (config.json missing)", path=checkpoint_dir,
                         hint="download the checkpoint once (e.g. facebook/wav2vec2-large-xlsr-53) and give its "
                              "local folder; nothing is downloaded; install the optional extra: "
                              "pip install 'biocl[hf]' if transformers is missing")
    try:
        model = transformers.AutoModel.from_pretrained(str(checkpoint_dir), local_files_only=True,
                                                       trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise BioclError(f"cannot load the checkpoint ({exc})", path=checkpoint_dir,
                         hint="expected a Hugging Face wav2vec 2.0 folder written by save_pretrained") from exc
    n_hidden = int(getattr(model.config, "num_hidden_layers", -1))
    first, last = int(layers[0]), int(layers[1])
    if not 0 <= first <= last <= n_hidden:
        raise BioclError(f"layers {first}-{last} are outside the checkpoint's 0-{n_hidden}", path=checkpoint_dir,
                         hint="choose a layer range within the model's hidden layers")
    model = model.to(device).eval()
    samples = _as_numpy(wave)
    if int(sfreq_hz) != 16000:
        import torchaudio.functional

        samples = torchaudio.functional.resample(torch.from_numpy(samples), int(sfreq_hz), 16000).numpy()
    n_out = n_frames(len(samples), 16000, out_sfreq_hz)
    # XLSR-53 and the base models were trained on zero-mean, unit-variance audio.
    samples = (samples - samples.mean()) / (samples.std() + 1e-7)
    hidden = _encode_chunks(model, samples, first, last, device, chunk_s)
    stride_s, centre_s = 320 / 16000, 200 / 16000
    frame_times = centre_s + stride_s * np.arange(hidden.shape[1])
    return _interpolate_frames(hidden, frame_times, n_out, out_sfreq_hz)


def _encode_chunks(model: Any, samples: np.ndarray, first: int, last: int, device: str,
                   chunk_s: float | None) -> np.ndarray:
    """``(hidden, n_frames)`` mean of layers ``first..last`` over the whole signal."""

    def encode(segment: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            inputs = torch.from_numpy(np.ascontiguousarray(segment, dtype=np.float32))[None].to(device)
            states = model(inputs, output_hidden_states=True).hidden_states
            return torch.stack(states[first:last + 1]).mean(dim=0)[0].T.float().cpu().numpy()

    if chunk_s is None or len(samples) <= chunk_s * 16000:
        return encode(samples)
    frame = 320
    chunk = max(frame, int(chunk_s * 16000) // frame * frame)
    context = 16000 // frame * frame
    pieces = []
    for start in range(0, len(samples), chunk):
        lo = max(0, start - context)
        hidden = encode(samples[lo:start + chunk + context])
        skip = (start - lo) // frame
        pieces.append(hidden[:, skip:skip + chunk // frame])
    return np.concatenate(pieces, axis=1)


class Standardiser:
    """One global mean and standard deviation over every value of every feature array.

    scikit-learn style: ``__init__`` stores arguments, :meth:`fit` sets ``mean_`` and
    ``std_`` (floats) and returns ``self``. Fit on the training audio only when the
    features of test audio must not inform the scaling.

    Parameters
    ----------
    eps : float
        Added to the standard deviation.
    """

    def __init__(self, eps: float = 1e-8):
        self.eps = eps

    def fit(self, features: np.ndarray | Sequence[np.ndarray]) -> Standardiser:
        """Fit the global statistics on an array or a list of ``(F, T_i)`` arrays."""
        arrays = [features] if isinstance(features, np.ndarray) else list(features)
        count = sum(a.size for a in arrays)
        if count == 0:
            raise ValueError("cannot standardise empty features")
        total = sum(float(np.sum(a, dtype=np.float64)) for a in arrays)
        self.mean_ = total / count
        squares = sum(float(np.sum((a.astype(np.float64) - self.mean_) ** 2)) for a in arrays)
        self.std_ = math.sqrt(squares / count)
        return self

    def transform(self, features: np.ndarray | Sequence[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """``(features - mean_) / (std_ + eps)``, keeping the input's structure, float32."""
        if not hasattr(self, "mean_"):
            raise RuntimeError("Standardiser is not fitted; call fit first")

        def one(a: np.ndarray) -> np.ndarray:
            return ((a - self.mean_) / (self.std_ + self.eps)).astype(np.float32)

        return one(features) if isinstance(features, np.ndarray) else [one(a) for a in features]

    def fit_transform(self, features: np.ndarray | Sequence[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(features).transform(features)


def standardise(features: np.ndarray | Sequence[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """Subtract one global mean and divide by one global standard deviation.

    The statistics are computed over every value of ``features`` (an array, or a list of
    arrays pooled together, e.g. one per audio file), as in the paper; use
    :class:`Standardiser` to keep them (``mean_``, ``std_``) or to fit on a subset.

    Returns
    -------
    np.ndarray or list of np.ndarray
        Same structure as ``features``, float32.
    """
    return Standardiser().fit_transform(features)
