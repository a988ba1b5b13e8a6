"""The JSON schema of ``report.json``, its validator, and the source pointers its data carries.

Every section of a report keeps the numbers it shows in ``data``, and for each ``data`` key
a ``sources`` entry says where the value was copied from: ``results.json#/json/pointer``
(RFC 6901), ``protocol.resolved.yaml#/pointer`` or ``metrics.jsonl``. A reader (or a test) can
therefore check every number of a report against the run's own files; text fields carry
words, never numbers that exist nowhere else.
"""

from __future__ import annotations

from typing import Any

from biocl.utils.errors import BioclError

__all__ = [
    "REPORT_FORMAT",
    "SECTION_IDS",
    "SECTION_STATUSES",
    "REPORT_SCHEMA",
    "validate_report",
    "make_pointer",
    "resolve_pointer",
    "split_source",
]

REPORT_FORMAT = "biocl-report/1"

# In reading order; a report has each of them exactly once.
SECTION_IDS = (
    "identity",
    "intended_use",
    "data_provenance",
    "exclusions",
    "data_quality",
    "flow",
    "primary_endpoint",
    "primary_result",
    "baselines",
    "subgroups",
    "worst_cases",
    "calibration",
    "figures",
    "training_curves",
    "model",
    "reproducibility",
    "limitations",
    "verdict",
)
SECTION_STATUSES = ("reported", "partly reported", "not reported")
_SOURCE_PATTERN = r"^(results\.json#(/.*)?|protocol\.resolved\.yaml#(/.*)?|protocol\.resolved\.yaml|metrics\.jsonl)$"

_STRINGS = {"type": "array", "items": {"type": "string"}}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "biocl evaluation report",
    "type": "object",
    "additionalProperties": False,
    "required": ["report_format", "biocl_version", "generated_at", "run_id", "run_dir", "pipeline",
                 "data_kind", "verdict", "sections", "notes"],
    "properties": {
        "report_format": {"const": REPORT_FORMAT},
        "biocl_version": {"type": "string"},
        "generated_at": {"type": "string", "description": "UTC time the report was built, ISO 8601"},
        "run_id": {"type": "string", "description": "the run folder's name"},
        "run_dir": {"type": "string"},
        "pipeline": {"type": "string"},
        "data_kind": {"enum": ["SIMULATED", "REAL", "NOT STATED"]},
        "verdict": {
            "type": "object",
            "additionalProperties": False,
            "required": ["label", "passed", "rule"],
            "properties": {
                "label": {"enum": ["PASS", "FAIL"]},
                "passed": {"type": "boolean"},
                "rule": {"type": "string", "description": "the pre-specified rule and how the value met it"},
            },
        },
        "sections": {
            "type": "array",
            "minItems": len(SECTION_IDS),
            "maxItems": len(SECTION_IDS),
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "title", "status", "alerts", "text", "bullets", "data", "sources"],
                "properties": {
                    "id": {"enum": list(SECTION_IDS)},
                    "title": {"type": "string"},
                    "status": {"enum": list(SECTION_STATUSES)},
                    "alerts": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["level", "text"],
                            "properties": {"level": {"enum": ["info", "warning", "pass", "fail"]},
                                           "text": {"type": "string"}},
                        },
                    },
                    "text": _STRINGS,
                    "bullets": _STRINGS,
                    "data": {"type": "object"},
                    "sources": {"type": "object",
                                "additionalProperties": {"type": "string", "pattern": _SOURCE_PATTERN}},
                },
            },
        },
        "notes": {**_STRINGS, "description": "problems met while building the report (a figure not drawn)"},
    },
}


def validate_report(document: dict[str, Any]) -> None:
    """Check a report document against :data:`REPORT_SCHEMA` and its cross-field rules.

    Beyond the schema: sections come once each in :data:`SECTION_IDS` order, and every
    ``data`` key has a ``sources`` entry (and no source is left without data).

    Raises
    ------
    BioclError
        Naming the first problem's location in the document.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(REPORT_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        raise BioclError(f"report.json does not match its schema at {where}: {error.message}")
    ids = [section["id"] for section in document["sections"]]
    if tuple(ids) != SECTION_IDS:
        raise BioclError(f"report.json sections are {ids}, expected {list(SECTION_IDS)}")
    for section in document["sections"]:
        if set(section["data"]) != set(section["sources"]):
            missing = sorted(set(section["data"]) ^ set(section["sources"]))
            raise BioclError(f"report.json section {section['id']!r}: data and sources differ on {missing}")


def make_pointer(*parts: str | int) -> str:
    """An RFC 6901 JSON pointer from path parts (``"/"`` and ``"~"`` escaped)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 JSON pointer; :class:`KeyError` when it does not exist."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    node = document
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(pointer)
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(pointer)
    return node


def split_source(source: str) -> tuple[str, str | None]:
    """``"results.json#/a/b"`` -> ``("results.json", "/a/b")``; ``"metrics.jsonl"`` -> ``("metrics.jsonl", None)``."""
    file_name, sep, pointer = source.partition("#")
    return file_name, (pointer if sep else None)
