"""`biocl dna embed`'s pipeline on one process (tests/hardening runs it under torchrun)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from biocl.pipelines.dna_binning import embed_fasta


def _fasta(path: Path, prefix: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("".join(f">{prefix}{i}\n{''.join(rng.choice(list('ACGT'), 1500))}\n" for i in range(3)))
    return path


def test_embed_fasta_writes_rows_in_input_order_and_leaves_the_global_generator_alone(tmp_path: Path) -> None:
    fasta = _fasta(tmp_path / "a.fa", "a", 0)
    torch.manual_seed(5)
    untouched = torch.rand(3)
    torch.manual_seed(5)
    summary = embed_fasta(fasta, tmp_path / "e", steps=0, window_bp=1000, device="cpu")
    assert torch.equal(torch.rand(3), untouched)
    assert summary["embeddings"] == str(tmp_path / "e.npy") and summary["processes"] == 1
    assert (tmp_path / "e.ids.txt").read_text().split() == ["a0", "a1", "a2"]
    first = np.load(tmp_path / "e.npy")
    embed_fasta(fasta, tmp_path / "again.npy", steps=0, window_bp=1000, device="cpu")
    assert first.shape == (3, summary["dim"]) and np.array_equal(np.load(tmp_path / "again.npy"), first)
