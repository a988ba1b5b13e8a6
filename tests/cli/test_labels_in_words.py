"""What people read names things in words: metric labels, the run's verdict line, progress text.

And bracketed text ("[audio] ...", "[bold]") is shown as written: rich markup never swallows it.
"""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from biocl.report.labels import metric_label
from biocl.utils import console


@pytest.mark.parametrize(("key", "label"), [
    ("retrieval_a2t_map10", "audio-to-text mAP@10"),
    ("retrieval_a2t_map10_after", "audio-to-text mAP@10 (after)"),
    ("zste_task1_change", "change in ZSTE task 1 (after - before)"),
    ("zste_task3_after", "ZSTE task 3 (after)"),
])
def test_metric_keys_read_as_words(key: str, label: str) -> None:
    assert metric_label(key) == label


def test_the_run_verdict_line_names_the_metric_in_words(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                        capsys: pytest.CaptureFixture) -> None:
    from biocl_cli import output, run
    from biocl_cli.main import main

    monkeypatch.setattr(output.state, "json", False)
    endpoint = {"metric": "retrieval_a2t_map10_after", "value": 0.5, "ci95": [0.4, 0.6], "comparison": ">=",
                "threshold": 0.29545454545, "passed": True}
    monkeypatch.setattr(run, "run_protocol",
                        lambda protocol, folder, resume=False: (folder, {"primary_endpoint": endpoint}))
    assert main(["--quiet", "run", "audio_temporal_quick", "--out", str(tmp_path / "run")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ("audio_temporal_quick: audio-to-text mAP@10 (after) = 0.5000 (95% CI 0.4000-0.6000; "
                     "passes at >= 0.2955) PASS")


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """The console as a colour terminal that writes into a buffer."""
    buffer = io.StringIO()
    monkeypatch.setattr(console, "console", Console(file=buffer, force_terminal=True, width=200, highlight=False))
    monkeypatch.setattr(console, "_quiet", False)
    monkeypatch.delenv("RANK", raising=False)
    return buffer


def test_a_bar_shows_bracketed_text_as_written(terminal: io.StringIO) -> None:
    assert list(console.progress(range(3), total=3, description="[audio] step [bold]1[/bold]")) == [0, 1, 2]
    assert "[audio] step [bold]1[/bold]" in terminal.getvalue()


def test_a_stage_spinner_shows_bracketed_text_as_written(terminal: io.StringIO) -> None:
    with console.stage("[dna] simulating [red]genomes"):
        console.console.print("inside")  # a frame of the spinner is drawn with it
    assert "[dna] simulating [red]genomes" in terminal.getvalue()


def test_a_bar_inside_a_stage_does_not_break_the_screen(terminal: io.StringIO) -> None:
    with console.stage("outer"):
        assert list(console.progress(range(2), total=2, description="inner")) == [0, 1]
