"""`biocl doctor`: what biocl sees of this machine."""

from __future__ import annotations

import importlib.metadata
import os

from biocl_cli.output import emit

_PACKAGES = ("biocl", "torch", "torchaudio", "numpy", "scipy", "scikit-learn", "mne", "mne-bids",
             "biopython", "typer", "pydantic", "safetensors", "transformers")


def doctor() -> None:
    """Versions, device, threads, and whether a GPU is seen."""
    import torch

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    cuda = torch.cuda.is_available()
    report = {
        "versions": versions,
        "device": "cuda" if cuda else "cpu",
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torchaudio_loads": _torchaudio_loads(),
    }
    lines = [f"{k:<14} {v}" for k, v in versions.items()]
    lines += [f"device         {report['device']}" + (f" ({report['gpu']})" if cuda else " (no GPU seen)"),
              f"threads        {report['torch_threads']} torch / {report['cpu_count']} CPUs",
              f"torchaudio     {'loads' if report['torchaudio_loads'] else 'FAILS to load (torch/torchaudio mismatch)'}"]
    emit(report, "\n".join(lines))


def _torchaudio_loads() -> bool:
    try:
        import torchaudio.functional  # noqa: F401
    except (ImportError, OSError):
        return False
    return True
