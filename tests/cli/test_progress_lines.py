"""Off a terminal (a pipe, SLURM, nohup) every long step says when it ended: one timestamped line.

Simulations and the report are one long call each (:func:`biocl.utils.console.stage`);
permutation tests, the kNN search and speech features are loops
(:func:`biocl.utils.console.progress`). Under pytest stderr is not a terminal, as in a batch job.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from biocl.utils import console
from biocl_cli import output
from biocl_cli.main import main

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "


@pytest.fixture(autouse=True)
def _speaking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not quiet, on rank 0, and restore the process-wide flags main() sets."""
    monkeypatch.setattr(output.state, "json", False)
    monkeypatch.setattr(output.state, "quiet", False)
    monkeypatch.setattr(console, "_quiet", False)
    monkeypatch.setenv("BIOCL_QUIET", "0")
    monkeypatch.delenv("RANK", raising=False)


def _lines(text: str, pattern: str) -> list[str]:
    return [line for line in text.splitlines() if re.fullmatch(STAMP + pattern, line)]


def test_a_simulation_prints_one_timestamped_line_when_done(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert not console.console.is_terminal
    assert main(["simulate", "audio", "--out", str(tmp_path / "sim"), "--classes", "2", "--clips-per-class", "1",
                 "--clip-s", "0.2"]) == 0
    err = capsys.readouterr().err
    assert len(_lines(err, r"simulating 2 sound classes x 1 clips: done in \d+\.\d s")) == 1, err
    assert "\x1b[" not in err  # no bar, no colour codes off a terminal
    # ... and nothing else: a stage is one line, not a start line plus an end line.
    assert len(err.strip().splitlines()) == 1, err


def test_each_stage_of_simulate_dna_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["simulate", "dna", "--out", str(tmp_path / "sim"), "--species", "2", "--strains", "1",
                 "--genome-bp", "8000", "--contigs-per-genome", "2"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert re.fullmatch(STAMP + r"simulating 2 genomes of 8000 bp: done in \d+\.\d s", err[0])
    assert re.fullmatch(STAMP + r"sampling 2 contigs from each of 2 genomes: done in \d+\.\d s", err[1])


def test_a_permutation_test_and_a_knn_search_are_one_line_each(capsys: pytest.CaptureFixture) -> None:
    from biocl.evaluate.binning import knn_graph
    from biocl.evaluate.stats import permutation_pvalue

    rng = np.random.default_rng(0)
    p_value = permutation_pvalue(0.9, lambda generator: float(generator.random()), n_permutations=40)
    assert 0 < p_value <= 1
    knn_graph(rng.normal(size=(30, 4)), 5, batch_size=8)
    err = capsys.readouterr().err
    assert len(_lines(err, r"permutation test: 40/40 permutations in \d+\.\d s")) == 1, err
    assert len(_lines(err, r"finding nearest neighbours: 4/4 blocks in \d+\.\d s")) == 1, err
    assert len(err.strip().splitlines()) == 2, err


def test_embedding_sequences_says_how_far_along_only_when_asked(capsys: pytest.CaptureFixture) -> None:
    from biocl.encoders.dna import DnaConvEncoder, embed_sequences

    encoder = DnaConvEncoder()
    seqs = ["ACGT" * 300] * 5
    silent = embed_sequences(encoder, seqs, window_bp=600, batch_size=4)
    assert capsys.readouterr().err == ""  # library calls in a pipeline's evaluation stay quiet
    shown = embed_sequences(encoder, seqs, window_bp=600, batch_size=4, progress_label="embedding the sequences")
    np.testing.assert_array_equal(shown, silent)
    err = capsys.readouterr().err
    assert len(_lines(err, r"embedding the sequences: 3/3 batches in \d+\.\d s")) == 1, err


def test_quiet_silences_the_stage_lines_but_run_log_keeps_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    console.set_quiet(True)
    try:
        with console.run_log(tmp_path) as log, console.stage("writing the report"):
            pass
    finally:
        console.set_quiet(False)
    assert capsys.readouterr().err == ""
    assert re.search(r"INFO    writing the report: done in \d+\.\d s", log.read_text(encoding="utf-8"))


def test_a_failed_stage_prints_no_done_line(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(RuntimeError), console.stage("simulating"):
        raise RuntimeError("boom")
    assert "done" not in capsys.readouterr().err
