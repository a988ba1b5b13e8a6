"""The sections of an evaluation report, each assembled from a run's files.

One function per section, in the order of :data:`biocl.report.schema.SECTION_IDS`. Each
copies the values it shows into ``section.data`` through :meth:`RunFiles.take`, which
records where every value came from; everything else a section holds is words (``text``,
``bullets``, ``alerts``) or presentation for the HTML page (``tables``, ``figures``).
A key missing from ``results.json`` makes its section (or its cell) say "not reported".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biocl.utils.errors import BioclError
from biocl.report.figures import (constant_curves, draw_figure, estimate_figure, training_curve_figures,
                                  training_curves)
from biocl.report.labels import format_number, metric_decimals, metric_label, metric_unit
from biocl.report.quality import calibration_section, data_quality_section
from biocl.report.tables import before_after_table, curated_metric_table
from biocl.report.material import NOT_REPORTED, ReportSection, RunFiles, data_kind, fmt, passes, verdict_rule

__all__ = ["build_sections"]

_FEW_UNITS = 10


def _identity(run: RunFiles) -> ReportSection:
    section = ReportSection("identity", "Identity")
    rows = [["Run id", run.run_id],
            ["Pipeline", run.take(section, "pipeline", "pipeline")],
            ["Protocol", run.take(section, "protocol_name", "protocol", "name")],
            ["Protocol version", run.take(section, "protocol_version", "protocol", "version")],
            ["Protocol file sha256", run.take(section, "protocol_sha256", "protocol", "sha256")],
            ["biocl version", run.take(section, "biocl_version", "environment", "biocl")],
            ["Git commit", run.take(section, "git_commit", "environment", "git_commit")]]
    checkpoint = run.take(section, "checkpoint", "checkpoint") or {}
    rows += [["Checkpoint", checkpoint.get("path")], ["Checkpoint sha256", checkpoint.get("sha256")]]
    section.table(["Item", "Value"], rows)
    if not checkpoint.get("sha256") or run.get("environment", "git_commit") in (None, "unknown"):
        section.status = "partly reported"
    return section


def _intended_use(run: RunFiles) -> ReportSection:
    section = ReportSection("intended_use", "Intended use and out-of-scope use")
    description = run.take(section, "description", "protocol", "description")
    intended = run.take(section, "intended_use", "protocol", "intended_use")
    out_of_scope = run.take(section, "out_of_scope_use", "protocol", "out_of_scope_use")
    if description:
        section.text.append(str(description))
    section.table(["", "Stated in the protocol"],
                  [["Intended use", intended or NOT_REPORTED], ["Out-of-scope use", out_of_scope or NOT_REPORTED]])
    if not intended and not out_of_scope:
        section.status = "not reported"
    elif not intended or not out_of_scope:
        section.status = "partly reported"
    return section


def _data_provenance(run: RunFiles) -> ReportSection:
    section = ReportSection("data_provenance", "Data provenance")
    data = run.take(section, "data", "data")
    kind = data_kind(run.results)
    if kind == "SIMULATED":
        section.alert("warning", "SIMULATED DATA. Every number in this report was measured on data made by a "
                                 "simulator. It says nothing about how the model does on real recordings.")
    elif kind == "REAL":
        section.alert("info", "REAL DATA. The numbers in this report were measured on real, recorded data.")
    else:
        section.alert("warning", "NOT STATED whether the data were simulated or real: results.json has no "
                                 "data.simulated flag. Treat the results as unverified.")
    if not isinstance(data, dict) or not data:
        section.status = "not reported"
        return section
    rows = [[key, value] for key, value in data.items()]
    section.table(["Property", "Value"], rows)
    if not any("sha256" in key or "checksum" in key for key in data) or not data.get("licence"):
        section.status = "partly reported"
    return section


def _exclusions(run: RunFiles) -> ReportSection:
    section = ReportSection("exclusions", "Exclusions and bad-data handling")
    exclusions = run.take(section, "exclusions", "exclusions")
    if exclusions is None:
        section.status = "not reported"
        section.text.append("The run did not report which inputs it excluded.")
    elif not exclusions:
        section.text.append("No input was excluded.")
    else:
        section.table(["Reason", "Count", "Unit"],
                      [[row.get("reason"), row.get("count"), row.get("unit")] for row in exclusions])
    return section


def _flow(run: RunFiles) -> ReportSection:
    section = ReportSection("flow", "Flow and train/test disjointness")
    flow = run.take(section, "flow", "flow")
    if flow:
        section.table(["Stage", "Count", "Unit"], [[row.get("stage"), row.get("count"), row.get("unit")]
                                                   for row in flow])
    else:
        section.text.append("The run did not report its flow counts.")
    disjointness = run.take(section, "disjointness", "disjointness")
    if not isinstance(disjointness, dict):
        section.alert("warning", "Train/test disjointness was not reported.")
    elif disjointness.get("asserted"):
        section.alert("pass", f"Asserted: train and test are disjoint. {disjointness.get('description', '')}".strip())
    else:
        section.alert("fail", "NOT asserted: train and test may share units. "
                              f"{disjointness.get('description', '')}".strip())
    if not flow and not isinstance(disjointness, dict):
        section.status = "not reported"
    elif not flow or not isinstance(disjointness, dict):
        section.status = "partly reported"
    return section


def _primary_endpoint(run: RunFiles) -> ReportSection:
    section = ReportSection("primary_endpoint", "Pre-specified primary endpoint")
    endpoint = run.endpoint
    for key in ("metric", "comparison", "threshold", "chance", "baseline", "unit"):
        run.take(section, key, "primary_endpoint", key)
    listed = run.prespecified_subgroups()
    if listed is not None:
        run.take(section, "prespecified_subgroups", "acceptance", "prespecified_subgroups",
                 file="protocol.resolved.yaml")
    name = run.get("protocol", "name", default=NOT_REPORTED)
    version = run.get("protocol", "version", default=NOT_REPORTED)
    rule = endpoint.get("threshold_rule")
    resolved = fmt(endpoint["threshold"])
    written = f"{rule} = {resolved}" if rule and rule != resolved else resolved
    section.text.append(f"Fixed before the run in protocol {name} version {version}: the run passes when "
                        f"{endpoint['metric']} {endpoint['comparison']} {written}.")
    section.table(["Item", "Value"], [
        ["Metric", endpoint["metric"]],
        ["Acceptance rule", f"{endpoint['metric']} {endpoint['comparison']} {written}"],
        ["Chance level", endpoint.get("chance") if endpoint.get("chance") is None
         else f"{fmt(endpoint['chance'])} ({endpoint.get('chance_source') or 'source not reported'})"],
        ["Baseline compared against", endpoint.get("baseline") or "none named"],
        ["Resampling unit of the CI", endpoint.get("unit")],
        ["Pre-specified subgroups", ", ".join(listed) if listed else ("none" if listed is not None
                                                                     else NOT_REPORTED)],
    ])
    for warning in endpoint.get("warnings") or []:
        section.alert("warning", warning)
    if endpoint.get("chance") is None:
        section.status = "partly reported"
    return section


def _primary_result(run: RunFiles) -> ReportSection:
    section = ReportSection("primary_result", "Primary result with 95 % CI")
    endpoint = run.endpoint
    for key in ("metric", "value", "ci95", "ci_method", "n_units", "passed"):
        run.take(section, key, "primary_endpoint", key)
    low, high = endpoint["ci95"]
    section.text.append(f"{endpoint['metric']} = {fmt(endpoint['value'])} (95 % CI {fmt(low)} to {fmt(high)}; "
                        f"{endpoint.get('ci_method', 'CI method not reported')}).")
    section.alert("pass" if endpoint["passed"] else "fail", verdict_rule(endpoint))
    if not endpoint.get("n_units"):
        section.alert("warning", "No per-unit values were stored: the interval is the point value and "
                                 "carries no uncertainty.")
    metric = endpoint["metric"]
    baselines = {name: values[metric] for name, values in (run.get("baselines") or {}).items()
                 if isinstance(values, dict) and isinstance(values.get(metric), (int, float))}
    section.figures.append(estimate_figure(metric, endpoint["value"], endpoint["ci95"],
                                           threshold=endpoint.get("threshold"), chance=endpoint.get("chance"),
                                           baselines=baselines))
    return section


def _baselines(run: RunFiles) -> ReportSection:
    section = ReportSection("baselines", "Baselines and permutation test against chance")
    metrics = run.take(section, "metrics", "metrics") or {}
    baselines = run.take(section, "baselines", "baselines") or {}
    endpoint = run.endpoint
    table = curated_metric_table(run)
    if table is not None:
        section.tables.append(table)
    named = endpoint.get("baseline")
    if named:
        value = (baselines.get(named) or {}).get(endpoint["metric"])
        if value is None:
            reported = ", ".join(baselines.get(named) or []) or "nothing"
            section.alert("warning", f"The protocol names baseline {named!r}, but the run reported no "
                                     f"{endpoint['metric']} for it (it reported {reported}).")
        else:
            higher_is_better = endpoint["comparison"] in (">=", ">")
            better = endpoint["value"] > value if higher_is_better else endpoint["value"] < value
            section.text.append(f"Against the pre-specified baseline {named}: model {fmt(endpoint['value'])} vs "
                                f"{fmt(value)} ({'better' if better else 'not better'}).")
    test = run.take(section, "permutation_test", "permutation_test")
    if isinstance(test, dict):
        section.text.append(f"Permutation test against chance: observed {test.get('metric')} = "
                            f"{fmt(test.get('observed'))}, p = {fmt(test.get('p_value'))} over "
                            f"{fmt(test.get('n_permutations'))} permutations (one-sided, +1 corrected).")
    else:
        section.text.append("Permutation test against chance: not reported.")
    run.take(section, "before_after", "before_after")
    before_after = before_after_table(run)
    if before_after is not None:
        section.tables.append(before_after)
    if not metrics and not baselines and not isinstance(test, dict):
        section.status = "not reported"
    elif not baselines or not isinstance(test, dict):
        section.status = "partly reported"
    return section


def _subgroups(run: RunFiles) -> ReportSection:
    section = ReportSection("subgroups", "Subgroups")
    subgroups = run.take(section, "subgroups", "subgroups")
    listed = run.prespecified_subgroups()
    if not subgroups:
        section.status = "not reported"
        section.text.append("The run reported no subgroup analysis.")
        return section
    exploratory = []
    for subgroup in subgroups:
        name = str(subgroup.get("name", ""))
        flagged = bool(subgroup.get("prespecified"))
        prespecified = flagged if listed is None else _listed(name, listed)
        if flagged and not prespecified:
            section.alert("warning", f"Subgroup {name!r} is flagged pre-specified by the pipeline but is not listed "
                                     "in the protocol's acceptance.prespecified_subgroups: reported as exploratory.")
        if not prespecified:
            exploratory.append(name)
        mark = "pre-specified" if prespecified else "exploratory"
        metric = str(subgroup.get("metric", "value"))
        decimals = metric_decimals(metric, [row.get("value") for row in subgroup.get("rows", [])])
        rows = [[row.get("group"), format_number(row.get("value"), decimals), _interval(row.get("ci95"), decimals),
                 row.get("n")] for row in subgroup.get("rows", [])]
        header = metric if " " in metric else f"{metric_label(metric)} ({metric_unit(metric)})"
        section.table(["Group", header, "95 % CI", "n"], rows,
                      caption=f"By {name} ({mark})")
    for name in listed or []:
        if not any(_listed(str(s.get("name", "")), [name]) for s in subgroups):
            section.alert("warning", f"Pre-specified subgroup {name!r} was not reported by the run.")
    if listed is None:
        section.text.append("The resolved protocol was not found: pre-specified or exploratory is as the "
                            "pipeline flagged it.")
    if exploratory:
        section.text.append(f"Exploratory ({', '.join(exploratory)}): not fixed before the run; read them as "
                            "hypotheses, not findings.")
    return section


def _listed(name: str, listed: list[str]) -> bool:
    """Whether the protocol lists subgroup ``name``: by its name, or by the name it qualifies
    (``"zste_task1_after by class"`` is the listed ``"zste_task1_after"``)."""
    return any(name == entry or name.startswith(f"{entry} ") for entry in listed)


def _interval(ci: Any, decimals: int) -> str:
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return NOT_REPORTED
    return f"{format_number(ci[0], decimals)} to {format_number(ci[1], decimals)}"


# What a worst case's value measures, when the case does not say (``"metric"``).
_WORST_CASE_METRIC = {"brain_speech": "top-10 accuracy over the sentence's windows",
                      "dna_species": "binning F1 of the species",
                      "audio_temporal": "task-3 accuracy of the class pair"}
# Identifiers a reader looks up, as the pipelines write them: brain_speech ``subject``, ``sentence``
# (its text), ``word``; dna_species ``species``, ``contig`` (ids of the contig FASTA); audio_temporal
# ``pair`` (classes) and ``clips`` (the files joined). One equal to the case's ``id`` is not repeated.
_IDENTIFIER_KEYS = ("subject", "session", "sentence", "word", "contig", "species", "clips", "pair")


def _worst_cases(run: RunFiles) -> ReportSection:
    """The worst units by the named metric, worst first, failures only, each with an identifier."""
    section = ReportSection("worst_cases", "Worst cases")
    cases = run.take(section, "worst_cases", "worst_cases")
    if not cases:
        section.status = "not reported"
        section.text.append("The run reported no worst cases.")
        return section
    metric = str(cases[0].get("metric") or _WORST_CASE_METRIC.get(str(run.get("pipeline")), "value"))
    higher_is_better = bool(cases[0].get("higher_is_better", True))

    def failed(case: dict[str, Any]) -> bool:
        if "failed" in case:
            return bool(case["failed"])
        value = case.get("value")
        # A rate is a failure below 1 (some windows, contigs or joins wrong); other values all count.
        return not (higher_is_better and isinstance(value, (int, float)) and value >= 1.0)

    shown = sorted((c for c in cases if failed(c)), key=lambda c: (c.get("value") is None, c.get("value") or 0),
                   reverse=not higher_is_better)
    decimals = metric_decimals(metric, [c.get("value") for c in shown])
    rows = []
    for case in shown:
        extra = "; ".join(f"{key} {case[key]}" for key in _IDENTIFIER_KEYS
                          if case.get(key) not in (None, "") and str(case[key]) != str(case.get("id")))
        rows.append([case.get("id"), format_number(case.get("value"), decimals),
                     "; ".join(part for part in (extra, str(case.get("detail") or "")) if part)])
    if rows:
        section.table(["Identifier", metric[0].upper() + metric[1:], "Detail"], rows,
                      caption=f"Worst first by {metric} ({'lower' if higher_is_better else 'higher'} is worse).")
    else:
        section.text.append("None of the listed cases failed.")
    if len(shown) < len(cases):
        section.text.append(f"{len(cases) - len(shown)} listed case(s) did not fail and are left out.")
    return section


def _shared_heatmap_scale(specs: list[Any]) -> list[Any]:
    """Similarity heatmaps set side by side share one colour scale (their joint min and max)."""
    similar = [k for k, spec in enumerate(specs) if isinstance(spec, dict) and spec.get("kind") == "heatmap"
               and "vmin" not in spec and "similarity" in str(spec.get("title", "")).lower()]
    if len(similar) < 2:
        return specs
    try:
        values = np.concatenate([np.asarray(specs[k]["matrix"], dtype=float).ravel() for k in similar])
    except (KeyError, TypeError, ValueError):
        return specs  # a malformed matrix is reported when it is drawn
    values = values[np.isfinite(values)]
    if not values.size:
        return specs
    shared = {"vmin": float(values.min()), "vmax": float(values.max()),
              "zlabel": "similarity (one scale for all similarity maps)"}
    return [{**spec, **shared} if k in similar else spec for k, spec in enumerate(specs)]


def _figures(run: RunFiles) -> ReportSection:
    section = ReportSection("figures", "Figures")
    specs = run.take(section, "figures", "figures")
    if not specs:
        section.status = "not reported"
        section.text.append("The run described no figures.")
        return section
    for index, spec in enumerate(_shared_heatmap_scale(specs)):
        try:
            section.figures.append(draw_figure(spec))
        except BioclError as err:
            # One malformed figure spec must not cost the reader the rest of the report.
            title = spec.get("title", "") if isinstance(spec, dict) else ""
            message = f"figure {index} {title!r} was not drawn: {err.message}"
            run.notes.append(message)
            section.alert("warning", message)
            section.status = "partly reported"
    return section


def _training_curves(run: RunFiles) -> ReportSection:
    section = ReportSection("training_curves", "Training curves")
    curves = training_curves(run.records)
    if not curves:
        section.status = "not reported"
        section.text.append("metrics.jsonl holds no numeric training record.")
        return section
    section.data["curves"] = curves
    section.sources["curves"] = "metrics.jsonl"
    section.text.append(f"From metrics.jsonl: {len(run.records)} records, {len(curves)} series.")
    section.figures.extend(training_curve_figures(curves))
    section.bullets.extend(constant_curves(curves))
    return section


def _flatten(value: Any, prefix: str = "") -> list[list[Any]]:
    if isinstance(value, dict) and value:
        rows = []
        for key, inner in value.items():
            rows.extend(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    return [[prefix, value]]


def _model(run: RunFiles) -> ReportSection:
    section = ReportSection("model", "Model specification")
    model = run.take(section, "model", "model")
    device = run.take(section, "device", "device")
    if not isinstance(model, dict):
        section.status = "not reported"
        section.text.append("The run did not describe its model.")
        return section
    rows = [["name", model.get("name")], ["trainable parameters", model.get("parameters")], ["device", device]]
    rows += _flatten(model.get("spec") or {}, "spec")
    section.table(["Item", "Value"], rows)
    return section


def _reproducibility(run: RunFiles) -> ReportSection:
    section = ReportSection("reproducibility", "Reproducibility")
    environment = run.take(section, "environment", "environment") or {}
    seed = run.take(section, "seed", "protocol", "seed")
    wall = run.take(section, "wall_time_s", "wall_time_s")
    run.take(section, "protocol_path", "protocol", "path")
    section.table(["Item", "Value"], [["protocol seed", seed], ["CI resampling", run.endpoint.get("ci_method")],
                                      ["wall time (s)", wall], *_flatten(environment)])
    if run.protocol_text is not None:
        section.data["protocol_resolved"] = run.protocol_text
        section.sources["protocol_resolved"] = "protocol.resolved.yaml"
        section.preformatted = run.protocol_text
    else:
        section.text.append("protocol.resolved.yaml was not found in the run folder.")
    if not environment or run.protocol_text is None:
        section.status = "partly reported"
    return section


def _limitations(run: RunFiles) -> ReportSection:
    section = ReportSection("limitations", "Limitations")
    stated = run.take(section, "stated", "protocol", "limitations") or []
    section.bullets.extend(str(item) for item in stated)
    section.bullets.extend(_automatic_limitations(run))
    if not stated:
        section.text.append("The protocol states no limitations; those below were found automatically.")
    return section


def _automatic_limitations(run: RunFiles) -> list[str]:
    endpoint = run.endpoint
    found = []
    kind = data_kind(run.results)
    if kind == "SIMULATED":
        found.append("Simulated data: these results say nothing about real recordings, sequences or clips.")
    elif kind == "NOT STATED":
        found.append("The report cannot tell whether the data were simulated or real.")
    n_units = endpoint.get("n_units") or 0
    if n_units == 0:
        found.append("No per-unit values: the confidence interval carries no uncertainty.")
    elif n_units < _FEW_UNITS:
        found.append(f"The CI rests on only {n_units} {endpoint.get('unit', 'unit')}s: a percentile bootstrap over "
                     "so few units is unstable and tends to be too narrow.")
    low, high = endpoint["ci95"]
    if passes(endpoint, low) != passes(endpoint, high):
        found.append("The 95 % CI contains the threshold: another sample of "
                     f"{endpoint.get('unit', 'unit')}s could give the other verdict.")
    chance = endpoint.get("chance")
    if chance is not None and low <= chance <= high:
        found.append("The 95 % CI contains the chance level.")
    disjointness = run.get("disjointness")
    if not isinstance(disjointness, dict) or not disjointness.get("asserted"):
        found.append("Train/test disjointness was not asserted.")
    if not isinstance(run.get("permutation_test"), dict):
        found.append("No permutation test against chance was reported.")
    if not run.get("checkpoint", "sha256"):
        found.append("No checkpoint hash: the evaluated model cannot be identified from this report.")
    commit = str(run.get("environment", "git_commit", default="unknown"))
    if commit == "unknown":
        found.append("The git commit of the code is unknown.")
    elif commit.endswith("-dirty"):
        found.append("The code had uncommitted changes: the commit alone does not recover it.")
    return found


def _verdict(run: RunFiles) -> ReportSection:
    section = ReportSection("verdict", "Verdict")
    endpoint = run.endpoint
    for key in ("passed", "metric", "value", "comparison", "threshold", "ci95"):
        run.take(section, key, "primary_endpoint", key)
    section.alert("pass" if endpoint["passed"] else "fail", verdict_rule(endpoint))
    low, high = endpoint["ci95"]
    if passes(endpoint, low) and passes(endpoint, high):
        section.text.append("The whole 95 % CI meets the threshold.")
    elif not passes(endpoint, low) and not passes(endpoint, high):
        section.text.append("The whole 95 % CI misses the threshold.")
    else:
        section.text.append("The 95 % CI contains the threshold: the verdict holds for this sample, "
                            "not robustly.")
    section.text.append("The rule was fixed in the protocol before the run; only the point value decides it.")
    return section


_BUILDERS = (_identity, _intended_use, _data_provenance, _exclusions, data_quality_section, _flow,
             _primary_endpoint, _primary_result, _baselines, _subgroups, _worst_cases, calibration_section, _figures,
             _training_curves, _model, _reproducibility, _limitations, _verdict)


def build_sections(run: RunFiles) -> list[ReportSection]:
    """Every section of the report, in reading order."""
    return [build(run) for build in _BUILDERS]
