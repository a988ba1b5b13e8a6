"""What a report is made of: the run's files, the sections built from them, and how values read.

:class:`RunFiles` holds a run folder's ``results.json``, resolved protocol and metrics log,
and copies values into a :class:`ReportSection` while recording where each came from, so
``report.json`` can name a source for every number it carries.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any

from biocl.report.schema import make_pointer, resolve_pointer

__all__ = ["NOT_REPORTED", "cell_of", "ReportSection", "RunFiles", "fmt", "passes", "verdict_rule", "data_kind"]

NOT_REPORTED = "not reported"


def fmt(value: Any) -> str:
    """A value as a reader wants to see it: short floats, plain integers, "not reported" for None."""
    if value is None:
        return NOT_REPORTED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    return str(value)


_NUMERIC_TEXT = re.compile(r"[-+\u2212]?[\d\u202f.,]+(e[-+]?\d+)?%?( (to|-|\u2013) [-+\u2212]?[\d\u202f.,]+(e[-+]?\d+)?%?)?"
                           r"( \[[-\d.,\u202f ]+(to|,)[-\d.,\u202f ]+\])?")
_HASH_TEXT = re.compile(r"[0-9a-f]{12,}(-dirty)?")


def cell_of(value: Any) -> dict[str, str]:
    """A table cell: its text and what kind of text it is (how the page sets it)."""
    text = value if isinstance(value, str) else fmt(value)
    if text == NOT_REPORTED:
        kind = "missing"
    elif (isinstance(value, (int, float)) and not isinstance(value, bool)) or _NUMERIC_TEXT.fullmatch(text):
        kind = "num"
    elif _HASH_TEXT.fullmatch(text):
        kind = "code"
    else:
        kind = "text"
    return {"text": text, "kind": kind}


@dataclass
class ReportSection:
    """One section: what ``report.json`` carries (``to_json``) and what the HTML page adds."""

    id: str
    title: str
    status: str = "reported"
    alerts: list[dict[str, str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    tables: list[dict[str, Any]] = field(default_factory=list)
    figures: list[dict[str, str]] = field(default_factory=list)
    preformatted: str | None = None

    def alert(self, level: str, text: str) -> None:
        """Add a highlighted line (``info``, ``warning``, ``pass`` or ``fail``)."""
        self.alerts.append({"level": level, "text": text})

    def table(self, columns: list[str], rows: list[list[Any]], caption: str | None = None) -> None:
        """Add a table for the HTML page; cells are formatted with :func:`fmt` unless already text.

        Each cell is ``{"text": str, "kind": "num" | "code" | "missing" | "text"}``: numbers
        (and intervals of numbers) are never wrapped, hashes are set in monospace.
        """
        self.tables.append({"caption": caption, "columns": columns,
                            "rows": [[cell_of(cell) for cell in row] for row in rows]})

    def to_json(self) -> dict[str, Any]:
        """The machine-readable part of the section."""
        return {"id": self.id, "title": self.title, "status": self.status, "alerts": self.alerts,
                "text": self.text, "bullets": self.bullets, "data": self.data, "sources": self.sources}


@dataclass
class RunFiles:
    """What a report is built from: a run folder's results, resolved protocol and metrics log."""

    results: dict[str, Any]
    protocol: dict[str, Any] | None
    protocol_text: str | None
    records: list[dict[str, Any]]
    run_id: str
    notes: list[str] = field(default_factory=list)

    def take(self, section: ReportSection, key: str, *path: str | int, file: str = "results.json") -> Any:
        """Copy the value at ``path`` of ``file`` into ``section.data[key]``, recording its source.

        Returns the value, or ``None`` when the path does not exist (nothing is recorded then).
        """
        document = self.results if file == "results.json" else self.protocol
        pointer = make_pointer(*path)
        try:
            value = resolve_pointer(document, pointer)
        except KeyError:
            return None
        section.data[key] = copy.deepcopy(value)
        section.sources[key] = f"{file}#{pointer}"
        return value

    def get(self, *path: str | int, default: Any = None) -> Any:
        """The value at ``path`` of ``results.json`` without copying it into a section."""
        try:
            return resolve_pointer(self.results, make_pointer(*path))
        except KeyError:
            return default

    @property
    def endpoint(self) -> dict[str, Any]:
        """The ``primary_endpoint`` of ``results.json`` (checked complete by the reader)."""
        return self.results["primary_endpoint"]

    def prespecified_subgroups(self) -> list[str] | None:
        """``acceptance.prespecified_subgroups`` of the resolved protocol, ``None`` when it is unreadable."""
        if self.protocol is None:
            return None
        listed = (self.protocol.get("acceptance") or {}).get("prespecified_subgroups")
        return list(listed) if isinstance(listed, list) else []


def passes(endpoint: dict[str, Any], value: float) -> bool:
    """Whether ``value`` meets the endpoint's pre-specified rule (``comparison`` and ``threshold``)."""
    threshold = endpoint["threshold"]
    return {">=": value >= threshold, ">": value > threshold,
            "<=": value <= threshold, "<": value < threshold}[endpoint["comparison"]]


def verdict_rule(endpoint: dict[str, Any]) -> str:
    """``"PASS: top10_accuracy = 0.41 >= 0.2 (pre-specified)"`` (or ``FAIL: ..., not >= ...``)."""
    label = "PASS" if endpoint["passed"] else "FAIL"
    relation = endpoint["comparison"] if endpoint["passed"] else f"not {endpoint['comparison']}"
    return (f"{label}: {endpoint['metric']} = {fmt(endpoint['value'])} {relation} "
            f"{fmt(endpoint['threshold'])} (pre-specified)")


def data_kind(results: dict[str, Any]) -> str:
    """``SIMULATED``, ``REAL`` or ``NOT STATED``, from ``results["data"]["simulated"]``."""
    simulated = (results.get("data") or {}).get("simulated")
    if simulated is True:
        return "SIMULATED"
    if simulated is False:
        return "REAL"
    return "NOT STATED"
