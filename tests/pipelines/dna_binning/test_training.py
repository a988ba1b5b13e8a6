"""Self-training on a user's files: grouping by file or sequence, the seed, and the caller's generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from biocl.pipelines.dna_binning import SelfTraining, train_encoder
from biocl.utils.errors import BioclError

TINY = SelfTraining(steps=1, mimix_steps=1, batch_size=2, segment_bp=500)


def _fasta(path: Path, prefix: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("".join(f">{prefix}{i}\n{''.join(rng.choice(list('ACGT'), 1500))}\n" for i in range(3)))
    return path


def test_groups_by_file_or_sequence_and_the_same_seed_gives_the_same_checkpoint(tmp_path: Path) -> None:
    files = [_fasta(tmp_path / "a.fa", "a", 0), _fasta(tmp_path / "b.fa", "b", 1)]
    torch.manual_seed(5)
    untouched = torch.rand(3)
    torch.manual_seed(5)
    by_file = train_encoder(files, tmp_path / "f.safetensors", group_by="file", training=TINY, min_length_bp=0,
                            device="cpu")
    assert torch.equal(torch.rand(3), untouched)  # the caller's generator is as it was
    by_sequence = train_encoder(files, tmp_path / "s.safetensors", training=TINY, min_length_bp=0, device="cpu")
    again = train_encoder(files, tmp_path / "s2.safetensors", training=TINY, min_length_bp=0, device="cpu")
    assert by_file["groups"] == 2 and by_sequence["groups"] == 6
    assert again["sha256"] == by_sequence["sha256"] != by_file["sha256"]
    assert by_sequence == {"checkpoint": str(tmp_path / "s.safetensors"), "sha256": by_sequence["sha256"],
                           "groups": 6, "steps": 1, "mimix_steps": 1}


def test_sequence_ids_must_be_unique_across_files_and_group_by_is_checked(tmp_path: Path) -> None:
    fasta = _fasta(tmp_path / "a.fa", "a", 0)
    with pytest.raises(BioclError, match="appears in two input files"):
        train_encoder([fasta, fasta], tmp_path / "x.safetensors", training=TINY, min_length_bp=0, device="cpu")
    with pytest.raises(BioclError, match="unknown --group-by"):
        train_encoder([fasta], tmp_path / "x.safetensors", group_by="genome", training=TINY, device="cpu")
    assert not (tmp_path / "x.safetensors").exists()
