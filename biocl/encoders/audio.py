"""A compact audio encoder: a small CNN on log-mel spectrograms, small enough to train on 2 CPU cores.

The waveform becomes a log-mel spectrogram (torchaudio; no learned parameters),
standardised per clip so the level of a recording hardly moves its embedding. Three
convolution blocks (``features.0-2``) turn it into a feature map; the map is averaged over
frequency and then over ``time_bins`` equal parts of the clip, and the bins are
concatenated before the fully connected layers (``fc``). Keeping a coarse time axis is
what lets the embedding say which sound came first: a global average over time would
give "A before B" and "B before A" the same embedding.

The whole clip is always encoded: no crop, random or otherwise, so the same samples
give the same embedding every time (in ``eval()`` mode).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from biocl.encoders.base import Encoder, register_encoder
from biocl.utils.errors import BioclError

__all__ = ["LogMelCNN"]


@register_encoder("logmel_cnn")
class LogMelCNN(Encoder):
    """Log-mel spectrogram, three conv blocks, time bins, two fully connected layers.

    Parameters
    ----------
    sample_rate_hz : int
        Sample rate of the input waveforms, Hz.
    n_mels : int
        Mel bands.
    n_fft : int
        FFT length, samples.
    hop_length : int
        Hop between frames, samples (``hop_length / sample_rate_hz`` seconds).
    channels : sequence of int
        Output channels of the conv blocks (3x3 conv, group norm, ReLU, 2x2 max-pool each).
    time_bins : int
        Parts of the clip whose features are kept apart (order information).
    hidden_dim : int
        Width of the first fully connected layer.
    output_dim : int
        Embedding dimension.
    """

    modality = "audio"

    def __init__(self, sample_rate_hz: int = 16000, n_mels: int = 48, n_fft: int = 512, hop_length: int = 160,
                 channels: tuple[int, ...] | list[int] = (16, 32, 64), time_bins: int = 4, hidden_dim: int = 128,
                 output_dim: int = 128):
        super().__init__()
        import torchaudio

        self.sample_rate_hz, self.n_mels, self.n_fft, self.hop_length = sample_rate_hz, n_mels, n_fft, hop_length
        self.channels, self.time_bins, self.hidden_dim = tuple(channels), time_bins, hidden_dim
        self.output_dim = output_dim
        self.melspec = torchaudio.transforms.MelSpectrogram(sample_rate=sample_rate_hz, n_fft=n_fft,
                                                            hop_length=hop_length, n_mels=n_mels, power=2.0)
        blocks: list[nn.Module] = []
        c_in = 1
        for c_out in self.channels:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(min(8, c_out), c_out),
                                        nn.ReLU(), nn.MaxPool2d(2)))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.fc = nn.Sequential(nn.Linear(c_in * time_bins, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim))

    @property
    def min_samples(self) -> int:
        """The shortest input, samples: enough frames to survive every 2x pooling."""
        return self.hop_length * (2 ** len(self.channels))

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """Per-clip standardised log-mel spectrogram, shape (batch, n_mels, frames), float32."""
        # The spectrogram stays in float32 even under bf16 autocast: log of tiny powers
        # underflows in bf16.
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            mel = torch.log(self.melspec(waveform.float()) + 1e-6)
            mean = mel.mean(dim=(1, 2), keepdim=True)
            std = mel.std(dim=(1, 2), keepdim=True)
            return (mel - mean) / (std + 1e-5)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Embed whole clips.

        Parameters
        ----------
        waveform : Tensor of shape (batch, n_samples)
            Mono clips of equal length at ``sample_rate_hz``; at least :attr:`min_samples`.

        Returns
        -------
        Tensor of shape (batch, output_dim)
        """
        if waveform.ndim != 2:
            raise BioclError(f"the audio encoder takes (batch, samples) waveforms, got shape {tuple(waveform.shape)}")
        if waveform.shape[1] < self.min_samples:
            raise BioclError(f"clips of {waveform.shape[1]} samples are too short for this encoder "
                             f"(at least {self.min_samples} samples, {self.min_samples / self.sample_rate_hz:.3f} s)")
        feature_map = self.features(self.log_mel(waveform)[:, None])
        over_time = feature_map.mean(dim=2)
        binned = torch.nn.functional.adaptive_avg_pool1d(over_time, self.time_bins)
        return self.fc(binned.flatten(1))

    def example_inputs(self, batch_size: int = 2, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Random 0.5 s waveforms."""
        n = max(self.sample_rate_hz // 2, self.min_samples)
        return {"waveform": 0.1 * torch.randn(batch_size, n, generator=generator)}

    @classmethod
    def tiny(cls) -> LogMelCNN:
        """An 8 kHz model with 16 mels and 4-8 channels."""
        return cls(sample_rate_hz=8000, n_mels=16, n_fft=256, hop_length=80, channels=(4, 8), time_bins=2,
                   hidden_dim=16, output_dim=16)

    def spec(self) -> dict[str, Any]:
        """The constructor arguments, to rebuild the model from a checkpoint."""
        return {"sample_rate_hz": self.sample_rate_hz, "n_mels": self.n_mels, "n_fft": self.n_fft,
                "hop_length": self.hop_length, "channels": list(self.channels), "time_bins": self.time_bins,
                "hidden_dim": self.hidden_dim, "output_dim": self.output_dim}
