"""Logging through rich: bracketed text survives, off a terminal one timestamped line per stage, run.log."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from biocl.utils import console

_STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


@pytest.fixture
def loud(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_quiet", False)
    monkeypatch.setattr(console, "_debug", False)
    monkeypatch.delenv("RANK", raising=False)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, loud: None) -> io.StringIO:
    """The rich console drawing on a fake terminal, as a person's shell would."""
    screen = io.StringIO()
    monkeypatch.setattr(console.console, "_file", screen)
    monkeypatch.setattr(console.console, "_force_terminal", True)
    return screen


def test_bracketed_text_is_not_taken_for_markup(terminal: io.StringIO) -> None:
    console.info("[audio] simulating 3 sound classes; [dna_species] scoring [bold]tnf[/bold]")
    shown = terminal.getvalue()
    assert "[audio] simulating" in shown and "[dna_species] scoring" in shown and "[bold]tnf[/bold]" in shown


def test_off_a_terminal_each_message_is_one_timestamped_line(loud: None, capsys: pytest.CaptureFixture[str]) -> None:
    console.info("[audio] simulating")
    assert re.fullmatch(rf"{_STAMP} \[audio\] simulating\n", capsys.readouterr().err)


def test_progress_off_a_terminal_closes_each_stage_with_one_line(loud: None, capsys) -> None:
    status = console.loss_status()
    for step in console.progress(range(4), total=4, description=console.stage_label("weighted_simclr"),
                                 status=status):
        status.value = 1.0 / (step + 1)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(rf"{_STAMP} self-training the encoder: 4/4 steps in \d+\.\d s, last loss 0\.2500", lines[0])


def test_progress_bar_on_a_terminal_stays_with_rate_and_loss(terminal: io.StringIO) -> None:
    status = console.loss_status()
    for _ in console.progress(range(3), total=3, description="self-training the encoder", status=status):
        status.value = 0.5
    drawn = terminal.getvalue()
    assert "self-training the encoder" in drawn and "3/3" in drawn and "steps/s" in drawn and "loss 0.5000" in drawn


def test_stage_labels_are_in_the_users_words() -> None:
    assert console.stage_label("weighted_simclr", 1, 1) == "self-training the encoder"
    assert console.stage_label("mimix", 2, 2).endswith("(epoch 2/2)")
    assert console.stage_label("my_phase") == "my phase"


def test_quiet_silences_stderr_but_not_the_run_log(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(console, "_quiet", True)
    with console.run_log(tmp_path) as path:
        console.info("[dna_species] 12 genomes")
        console.debug("a detail")
    console.info("after the block")
    assert capsys.readouterr().err == ""
    text = path.read_text(encoding="utf-8")
    assert "INFO    [dna_species] 12 genomes" in text and "DEBUG   a detail" in text
    assert "after the block" not in text


def test_run_folder_gets_a_run_log(tmp_path: Path, loud: None) -> None:
    from biocl.pipelines.runs import RunContext
    from biocl.protocols.base import load_protocol
    from biocl_cli.protocols import find_protocol

    protocol = load_protocol(find_protocol("dna_species_quick"))
    with RunContext(tmp_path / "run", protocol):
        console.info("inside the run")
    console.info("outside the run")
    text = (tmp_path / "run" / console.RUN_LOG).read_text(encoding="utf-8")
    assert "inside the run" in text and "outside the run" not in text
