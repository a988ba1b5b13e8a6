"""Print the bad-input corpus table at the end of a session that ran it."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    table = getattr(config, "biocl_corpus_table", None)
    if table:
        terminalreporter.write_sep("-", "bad-input corpus (biocl subprocesses)")
        terminalreporter.write_line(table)
