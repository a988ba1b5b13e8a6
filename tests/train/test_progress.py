"""The progress a state file records keeps the layout of STATE_FORMAT 1, so older runs still resume."""

from __future__ import annotations

from biocl.train.checkpoint import STATE_FORMAT
from biocl.train.progress import Ledger, PhaseProgress


def test_state_layout_is_that_of_format_1() -> None:
    assert STATE_FORMAT == 1  # a new layout bumps the format, and this test with it
    assert list(vars(PhaseProgress())) == ["epochs_done", "phase_step", "steps_per_epoch", "best_value", "bad_epochs",
                                           "step_in_epoch", "loss_sum", "loss_count", "log_sums", "log_counts"]
    assert list(Ledger().state()) == ["history", "stopped_early", "best_files", "global_step", "files"]


def test_ledger_round_trips_through_its_state() -> None:
    ledger = Ledger(history=[{"epoch": 0}], stopped_early={"a": True}, best_files={"a": "best-a.safetensors"},
                    files={"best-a.safetensors": "0" * 64}, global_step=7)
    assert Ledger.from_state({"format": STATE_FORMAT, **ledger.state()}) == ledger


def test_phase_progress_means_and_best() -> None:
    progress = PhaseProgress()
    progress.add_step(0, 2.0, {"items": 4.0, "loss": 9.0})
    progress.add_step(1, 1.0, {"items": 2.0})
    assert (progress.phase_step, progress.step_in_epoch, progress.loss_sum) == (2, 2, 3.0)
    assert progress.log_means() == {"train_items": 3.0}
    progress.end_epoch(0)
    assert (progress.epochs_done, progress.step_in_epoch, progress.loss_count, progress.log_sums) == (1, 0, 0, {})
    for value in (0.5, float("nan"), 0.7, 0.4):
        progress.observe(value, "min")
    assert progress.best_value == 0.4 and progress.bad_epochs == 0
    progress.observe(0.6, "min")
    assert progress.bad_epochs == 1
