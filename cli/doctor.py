"""`biocl doctor`: what biocl sees of this machine."""

from __future__ import annotations

import importlib.metadata
import os

from biocl_cli.output import emit

_PACKAGES = ("biocl", "torch", "torchaudio", "numpy", "scipy", "scikit-learn", "mne", "mne-bids",
             "biopython", "typer", "pydantic", "safetensors")
#: Optional packages, with what a user gains by installing them.
_OPTIONAL = {
    "transformers": "Hugging Face models (DNABERT-2/-S, CLAP): pip install 'biocl[hf]'",
    "faiss-cpu": "approximate kNN for binning 10^6 sequences: pip install 'biocl[faiss]'",
    "pysam": "reading BAM files for coverage (biocl dna bin --bam): pip install pysam",
}


def doctor() -> None:
    """Versions, device, threads, whether a GPU is seen, optional packages missing, and Chromium (for PDFs)."""
    import torch

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    optional = {}
    for name in _OPTIONAL:
        try:
            optional[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            optional[name] = None
    cuda = torch.cuda.is_available()
    chromium = _chromium()
    report = {
        "versions": versions,
        "optional": optional,
        "missing_optional": {name: _OPTIONAL[name] for name, version in optional.items() if version is None},
        "chromium": chromium,
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
              f"torchaudio     {'loads' if report['torchaudio_loads'] else 'FAILS to load (torch/torchaudio mismatch)'}",
              "chromium       " + (chromium or "not found: no report.pdf (apt-get install chromium, "
                                                 "or set BIOCL_CHROMIUM)")]
    lines += [f"{name:<14} {version}" if version else f"{name:<14} not installed, optional: {_OPTIONAL[name]}"
              for name, version in optional.items()]
    emit(report, "\n".join(lines))


def _chromium() -> str | None:
    from biocl.report.builder import find_chromium

    return find_chromium()


def _torchaudio_loads() -> bool:
    try:
        import torchaudio.functional  # noqa: F401
    except (ImportError, OSError):
        return False
    return True
