"""Print the tables the hardening tests collect (bad-input corpus, torchrun parity) at the end of a session."""

from __future__ import annotations

import pytest

_TORCHRUN_HEADER = ("| protocol | metric | 1 process [95% CI] | 2 processes [95% CI] | difference | noise tolerance "
                    "| wall time (1 / 2) |\n|---|---|---|---|---|---|---|")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    table = getattr(config, "biocl_corpus_table", None)
    if table:
        terminalreporter.write_sep("-", "bad-input corpus (biocl subprocesses)")
        terminalreporter.write_line(table)
    table = getattr(config, "biocl_hostile_table", None)
    if table:
        terminalreporter.write_sep("-", "hostile-input corpus, issue #15 (biocl subprocesses)")
        terminalreporter.write_line(table)
    rows = getattr(config, "biocl_torchrun_rows", None)
    if rows:
        terminalreporter.write_sep("-", "quick protocols: one process vs torchrun --nproc_per_node=2")
        terminalreporter.write_line("\n".join([_TORCHRUN_HEADER, *rows]))
