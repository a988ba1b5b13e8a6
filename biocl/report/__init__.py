"""Clinical-style evaluation reports of a run folder, and side-by-side comparisons of two runs.

:func:`build_report` turns ``RUN_DIR/results.json`` (with ``metrics.jsonl`` and
``protocol.resolved.yaml``) into ``report.json``, a self-contained ``report.html`` and, where
headless Chromium is installed, ``report.pdf``. :func:`compare_runs` pairs two runs' primary
endpoints unit by unit and bootstraps the difference. See ``docs/reports.md``.
"""

from biocl.report.builder import build_report
from biocl.report.compare import compare_runs, write_comparison

__all__ = ["build_report", "compare_runs", "write_comparison"]
