"""What the printed page adds around the sections: page 1's summary, the footer, the appendices.

* :func:`simulated_banner`: what this run simulated, in the pipeline's words.
* :func:`endpoint_summary`: the primary endpoint in one box under the verdict, so page 1
  of the PDF holds both.
* :func:`page_label`: the run id as a CSS string for the ``@page`` footer of every page.
* :func:`readable_protocol`: ``protocol.resolved.yaml`` as UTF-8 ("Défossez", not ``D\\xE9fossez``).
* :func:`key_dump`: every value of ``results.json`` for the collapsed appendix B.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from biocl.report.labels import format_number, metric_decimals, metric_label
from biocl.report.material import RunFiles, cell_of, fmt

__all__ = ["simulated_banner", "endpoint_summary", "page_label", "readable_protocol", "key_dump"]

_SIMULATED = {
    "brain_speech": "The recordings are simulated (MEG/EEG from the biocl simulator): these numbers say nothing "
                    "about real brains.",
    "dna_species": "The genomes are simulated: these numbers say nothing about real genomes.",
    "dna_binning": "The genomes and their contigs are simulated: these numbers say nothing about real metagenomes.",
    "audio_temporal": "The sounds are simulated: these numbers say nothing about real recordings of sounds.",
}
_LIST_SHOWN = 8


def simulated_banner(pipeline: str) -> str:
    """The banner line of a simulated run, naming what was simulated."""
    return _SIMULATED.get(pipeline, "The data are simulated: these numbers say nothing about real data.")


def endpoint_summary(endpoint: dict[str, Any]) -> dict[str, str]:
    """The primary endpoint as page 1 shows it: label, value and CI with one number of decimals."""
    metric = str(endpoint["metric"])
    low, high = endpoint["ci95"]
    decimals = metric_decimals(metric, [endpoint["value"], low, high])
    rule = endpoint.get("threshold_rule")
    threshold = fmt(endpoint["threshold"])
    written = f"{rule} = {threshold}" if rule and str(rule) != threshold else threshold
    chance = endpoint.get("chance")
    n_units = endpoint.get("n_units")
    unit_text = (f"{endpoint.get('ci_method')}" if endpoint.get("ci_method")
                 else f"{n_units} {endpoint.get('unit', 'unit')}s" if n_units else "no per-unit values")
    return {"metric": metric_label(metric), "value": format_number(endpoint["value"], decimals),
            "ci": f"{format_number(low, decimals)} to {format_number(high, decimals)}", "unit_text": unit_text,
            "rule": f"{metric_label(metric)} {endpoint['comparison']} {written}",
            "chance": None if chance is None else (f"{fmt(chance)}" + (f" ({endpoint['chance_source']})"
                                                                       if endpoint.get("chance_source") else ""))}


def page_label(run_id: str) -> str:
    """``"biocl report · run <id>"`` as a CSS string literal, safe inside ``<style>``."""
    text = f"biocl report \u00b7 run {run_id}"
    escaped = re.sub(r'[\\"\n\r<>]', lambda m: f"\\{ord(m[0]):x} ", text)
    return f'"{escaped}"'


def readable_protocol(run: RunFiles) -> str | None:
    """The resolved protocol as a person reads it: non-ASCII letters as themselves, comments kept.

    ``yaml.safe_dump`` without ``allow_unicode`` writes "é" as ``\\xE9``; when the file holds
    such escapes and parses, it is written again from its content with ``allow_unicode``.
    """
    text = run.protocol_text
    if text is None or not re.search(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})", text):
        return text
    if not isinstance(run.protocol, dict):
        return text
    comments = [line for line in text.splitlines() if line.startswith("#")]
    body = yaml.safe_dump(run.protocol, allow_unicode=True, sort_keys=False, width=100)
    return "\n".join(comments + [body.rstrip()]) + "\n"


def _dump_rows(value: Any, prefix: str) -> list[list[Any]]:
    if isinstance(value, dict) and value:
        rows = []
        for key, inner in value.items():
            rows += _dump_rows(inner, f"{prefix}.{key}" if prefix else str(key))
        return rows
    if isinstance(value, list) and len(value) > _LIST_SHOWN:
        return [[prefix, f"list of {len(value)} values"]]
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return [row for index, inner in enumerate(value) for row in _dump_rows(inner, f"{prefix}[{index}]")]
    return [[prefix, value]]


def key_dump(results: dict[str, Any]) -> dict[str, Any]:
    """Appendix B: every value of ``results.json`` by its dotted key (figure data left out)."""
    rows = _dump_rows({k: v for k, v in results.items() if k != "figures"}, "")
    return {"caption": None, "columns": ["Key in results.json", "Value"],
            "rows": [[{"text": key, "kind": "text"}, cell_of(value)] for key, value in rows]}
