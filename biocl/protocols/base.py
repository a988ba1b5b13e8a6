"""Protocols: the typed, validated description of one experiment.

A protocol is a YAML file. Its common sections (identity, ``train``, ``acceptance``) are
defined here; the pipeline-specific sections (``data``, ``model``, ``loss``, ``evaluate``)
are declared, one module per pipeline beside this one, with :func:`register_sections`
(``biocl/protocols/__init__.py`` imports each of them, so the registry is complete
whenever the package is imported). Unknown keys are errors everywhere, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from biocl.protocols.thresholds import ThresholdRule
from biocl.protocols.yaml_reader import MAX_PROTOCOL_BYTES, MAX_PROTOCOL_DEPTH, read_yaml
from biocl.utils.errors import BioclError
from biocl.utils.paths import check_protocol_path

__all__ = [
    "Section",
    "Phase",
    "TrainConfig",
    "Acceptance",
    "ThresholdRule",
    "Protocol",
    "PipelineSections",
    "register_sections",
    "pipeline_names",
    "load_protocol",
    "parse_overrides",
    "apply_overrides",
    "protocol_to_yaml",
    "validate_protocol",
    "check_phases",
    "read_yaml",
    "MAX_PROTOCOL_DEPTH",
]

_SECTION_NAMES = ("data", "model", "loss", "evaluate")

#: A random seed every generator takes: numpy needs it non-negative, torch below 2**64, and
#: pipelines add small offsets (rank, fold), so it stays below 2**63.
Seed = Annotated[int, Field(ge=0, le=2**63 - 1, description="a random seed in [0, 2**63 - 1]")]


class Section(BaseModel):
    """Base of every protocol section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Phase(Section):
    """One phase of a training curriculum (C2LR phase I/II, TeminAL pretrain/A/B).

    ``loss`` names the loss the pipeline uses in this phase; ``init_from`` is ``"previous"``
    (the previous phase's best checkpoint), ``"none"`` or a checkpoint path; ``trainable``
    lists parameter-name prefixes to train (``None`` trains everything).
    """

    name: str
    epochs: int = Field(ge=0)
    loss: str | None = None
    lr: float | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, ge=1)
    init_from: str = "previous"
    trainable: list[str] | None = None
    max_steps_per_epoch: int | None = Field(default=None, ge=1)


class TrainConfig(Section):
    """How to train: optimiser, schedule, batches, early stopping and curriculum phases."""

    epochs: int = Field(default=1, ge=0)
    batch_size: int = Field(default=32, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(default=3e-4, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    schedule: Literal["none", "cosine", "exponential"] = "none"
    gamma: float = Field(default=0.95, gt=0, le=1, description="per-epoch decay of the exponential schedule")
    grad_clip: float | None = Field(default=None, gt=0)
    max_steps_per_epoch: int | None = Field(default=None, ge=1)
    early_stopping_patience: int | None = Field(default=None, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool = True
    threads: int | None = Field(default=None, ge=1)
    phases: list[Phase] | None = None


class Acceptance(Section):
    """The pre-specified primary endpoint, fixed before the run and resolved against the data.

    The run passes when ``value <comparison> threshold``. ``threshold`` is a number, or a
    rule relative to chance or to a baseline (``"5 x chance"``, ``"ridge + 0.05"``): see
    :class:`ThresholdRule`. The chance level is always computed from the data at run time;
    ``expected_chance`` is what the protocol's author expects it to be: when the data
    disagree, the report shows a warning and uses the data's value. ``baseline`` names
    the baseline the metric is read against in the report.
    """

    metric: str
    comparison: Literal[">=", ">", "<=", "<"] = ">="
    threshold: float | str
    expected_chance: float | None = None
    baseline: str | None = None
    unit: str = Field(default="item", description="what the bootstrap resamples: subject, species, class pair, ...")
    ci_resamples: int = Field(default=2000, ge=100)
    ci_seed: Seed = 0
    prespecified_subgroups: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _chance_comes_from_the_data(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "chance" in raw:
            raise ValueError("acceptance.chance is computed from the data at run time; write expected_chance "
                             "for the value you expect (a mismatch is shown in the report), or a threshold "
                             "relative to chance such as '5 x chance'")
        return raw

    @field_validator("threshold")
    @classmethod
    def _readable_threshold(cls, value: float | str) -> float | str:
        ThresholdRule.parse(value)
        return value

    @field_validator("expected_chance")
    @classmethod
    def _finite_chance(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("expected_chance must be finite")
        return value

    @property
    def rule(self) -> ThresholdRule:
        """The parsed threshold."""
        return ThresholdRule.parse(self.threshold)

    def passed(self, value: float, threshold: float) -> bool:
        """Whether ``value`` meets the resolved ``threshold``."""
        return {
            ">=": value >= threshold,
            ">": value > threshold,
            "<=": value <= threshold,
            "<": value < threshold,
        }[self.comparison]


class Protocol(Section):
    """One experiment: identity, data, model, loss, training, evaluation and acceptance."""

    SECTION_NAMES: ClassVar[tuple[str, ...]] = _SECTION_NAMES

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str
    pipeline: str
    description: str = ""
    intended_use: str = ""
    out_of_scope_use: str = ""
    limitations: list[str] = Field(default_factory=list)
    seed: Seed = 0
    data: SerializeAsAny[Section]
    model: SerializeAsAny[Section]
    loss: SerializeAsAny[Section]
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: SerializeAsAny[Section]
    acceptance: Acceptance

    # Set by load_protocol: where the file was, so relative paths resolve against it.
    source_path: Path | None = Field(default=None, exclude=True)
    sha256: str | None = Field(default=None, exclude=True)
    # Set by load_protocol: the string values given with --set (paths among them were typed by the user).
    command_line_values: frozenset[str] = Field(default=frozenset(), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _typed_sections(cls, raw: Any) -> Any:
        sections = _sections_of(raw)
        if sections is None:
            return raw
        raw = dict(raw)
        for key in _SECTION_NAMES:
            value = raw.get(key, {})
            if isinstance(value, dict):
                raw[key] = sections.section(key).model_validate(value)
        return raw

    @model_validator(mode="after")
    def _runnable_phases(self) -> Protocol:
        check_phases(self)
        return self

    @field_validator("pipeline")
    @classmethod
    def _known_pipeline(cls, name: str) -> str:
        if name not in _REGISTRY:
            raise ValueError(f"unknown pipeline; known: {', '.join(pipeline_names())}")
        return name

    def resolve_path(self, path: str | Path) -> Path:
        """Resolve a path from the protocol relative to the protocol file's folder.

        Every path a pipeline reads from its protocol comes through here, so this is where
        :func:`biocl.utils.paths.check_protocol_path` refuses system locations, and other
        users' files unless the path was given on the command line (``--set``).
        """
        given = Path(path).expanduser()
        resolved = given if given.is_absolute() or self.source_path is None else \
            (self.source_path.parent / given).resolve()
        return check_protocol_path(resolved, from_command_line=str(path) in self.command_line_values)

    def phases(self) -> list[Phase]:
        """The curriculum, or one phase built from ``train`` when none is given."""
        if self.train.phases:
            return list(self.train.phases)
        return [Phase(name="train", epochs=self.train.epochs, init_from="none")]


@dataclass(frozen=True)
class PipelineSections:
    """A pipeline's name and the typed sections its protocols carry."""

    name: str
    data: type[Section]
    model: type[Section]
    loss: type[Section]
    evaluate: type[Section]
    phase_names: tuple[str, ...] | None = None
    phase_losses: tuple[str, ...] | None = None

    def section(self, key: str) -> type[Section]:
        """The section class for ``key`` (``"data"``, ``"model"``, ``"loss"`` or ``"evaluate"``)."""
        return getattr(self, key)


_REGISTRY: dict[str, PipelineSections] = {}


def register_sections(pipeline: str, *, data: type[Section], model: type[Section],
                      loss: type[Section], evaluate: type[Section], phase_names: tuple[str, ...] | None = None,
                      phase_losses: tuple[str, ...] | None = None) -> PipelineSections:
    """Declare a pipeline and its typed ``data``/``model``/``loss``/``evaluate`` sections.

    This is the one place a pipeline's name is written: its schema module keeps the returned
    :class:`PipelineSections` and everything else reads ``.name`` from it. ``phase_names``
    and ``phase_losses``, when given, are the only ``train.phases[].name`` and ``.loss``
    values the pipeline runs; :func:`check_phases` refuses others when a protocol is
    validated, so ``protocols validate`` and ``run`` accept the same protocols.
    """
    if pipeline in _REGISTRY:
        raise ValueError(f"pipeline {pipeline!r} registered twice")
    _REGISTRY[pipeline] = PipelineSections(pipeline, data=data, model=model, loss=loss, evaluate=evaluate,
                                           phase_names=phase_names, phase_losses=phase_losses)
    return _REGISTRY[pipeline]


def check_phases(protocol: Protocol) -> None:
    """Refuse phase names and losses the protocol's pipeline does not run (part of validation).

    Raises
    ------
    ValueError
        Naming the phase and the values the pipeline accepts (pydantic turns it into the
        one-line message of :func:`validate_protocol`).
    """
    sections = _REGISTRY.get(protocol.pipeline)
    if sections is None or not protocol.train.phases:
        return
    names = [phase.name for phase in protocol.train.phases]
    if len(set(names)) != len(names):
        raise ValueError(f"train.phases: two phases share a name ({', '.join(names)})")
    for phase in protocol.train.phases:
        if sections.phase_names is not None and phase.name not in sections.phase_names:
            raise ValueError(f"train.phases: unknown phase {phase.name[:40]!r}; the {sections.name} pipeline runs "
                             f"{', '.join(sections.phase_names)}")
        if sections.phase_losses is not None and phase.loss is not None and phase.loss not in sections.phase_losses:
            raise ValueError(f"train.phases: phase {phase.name[:40]!r} has the unknown loss {phase.loss[:40]!r}; "
                             f"use {', '.join(sections.phase_losses)}")


def _sections_of(raw: Any) -> PipelineSections | None:
    """The registered sections of the pipeline a raw protocol names, if it names one."""
    name = raw.get("pipeline") if isinstance(raw, dict) else None
    return _REGISTRY.get(name) if isinstance(name, str) else None


def pipeline_names() -> tuple[str, ...]:
    """The registered pipelines, in registration order."""
    return tuple(_REGISTRY)


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """Parse ``key.sub=value`` strings; values are read as YAML scalars (``3``, ``true``, ``[1, 2]``)."""
    overrides: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise BioclError(f"override {pair!r} is not of the form section.key=value",
                             hint="e.g. --set train.epochs=3")
        try:
            overrides[key] = read_yaml(value) if value.strip() else None
        except BioclError as err:
            raise BioclError(f"override {pair[:80]!r}: {err.message}", hint=err.hint) from None
    return overrides


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``raw`` with dotted-key ``overrides`` set (list items by index)."""
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node: Any = raw
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise BioclError(f"override {dotted!r}: {part!r} is not an index of a {len(node)}-item list")
                if last:
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
                    if node is None:
                        node = {}
            else:
                raise BioclError(f"override {dotted!r}: {'.'.join(parts[:depth])!r} is a value, not a section")
    return raw


def load_protocol(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Protocol:
    """Read, override and validate a protocol file.

    Parameters
    ----------
    path : str | Path
        The YAML file.
    overrides : list of str | dict | None
        ``section.key=value`` strings (as given to ``--set``) or an already parsed dict.

    Returns
    -------
    Protocol
        The validated protocol; ``sha256`` is the hash of the file's bytes.

    Raises
    ------
    BioclError
        When the file is missing, is not YAML, or does not match the schema.
    """
    path = Path(path)
    if not path.is_file():
        raise BioclError("protocol file not found", path=path, hint="see `biocl protocols list`")
    data = path.read_bytes()
    if len(data) > MAX_PROTOCOL_BYTES:
        raise BioclError(f"the file is {len(data)} bytes; a protocol is at most {MAX_PROTOCOL_BYTES}", path=path,
                         hint="a protocol describes an experiment; data belong in files it names")
    try:
        raw = read_yaml(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise BioclError(f"not a valid YAML file ({_short(err)})", path=path) from None
    except BioclError as err:
        raise BioclError(err.message, path=path, hint=err.hint) from None
    if not isinstance(raw, dict):
        raise BioclError("a protocol must be a YAML mapping of sections", path=path)
    if not isinstance(overrides, dict):
        overrides = parse_overrides(overrides)
    raw = apply_overrides(raw, overrides)
    protocol = validate_protocol(raw, path)
    protocol.source_path = path.resolve()
    protocol.sha256 = hashlib.sha256(data).hexdigest()
    protocol.command_line_values = frozenset(str(value) for value in overrides.values() if isinstance(value, str))
    return protocol


def validate_protocol(raw: dict[str, Any], path: str | Path | None = None) -> Protocol:
    """Validate a protocol given as a dict; errors name the first bad key."""
    raw = dict(raw)
    sections = _sections_of(raw)
    if sections is not None:
        for key in _SECTION_NAMES:
            value = raw.get(key, {})
            if not isinstance(value, dict):
                raise BioclError(f"{key}: must be a mapping of keys to values", path=path)
            try:
                raw[key] = sections.section(key).model_validate(value)
            except ValidationError as err:
                raise _one_line(err, (key,), path) from None
    try:
        return Protocol.model_validate(raw)
    except ValidationError as err:
        raise _one_line(err, (), path) from None


def _one_line(err: ValidationError, prefix: tuple[str, ...], path: str | Path | None) -> BioclError:
    first = err.errors()[0]
    where = ".".join(str(part) for part in (*prefix, *first["loc"])) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        message = f"unknown key {where!r}"
    elif kind == "missing":
        message = f"missing required key {where!r}"
    else:
        message = f"{where}: {first['msg']}"
        if "input" in first and not isinstance(first["input"], (dict, list)):
            message += f" (got {first['input']!r})"
    more = len(err.errors()) - 1
    if more:
        message += f"; {more} more problem{'s' if more > 1 else ''}"
    return BioclError(message, path=path, hint="see docs/protocols.md")


def protocol_to_yaml(protocol: Protocol) -> str:
    """The protocol as resolved YAML (overrides applied, defaults filled in), as UTF-8 text.

    Non-ASCII text stays as written ("Défossez", not "D\\xE9fossez"), so ``protocol.resolved.yaml``
    and ``biocl protocols show`` read like the protocol file.
    """
    return yaml.safe_dump(protocol.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _short(err: Exception) -> str:
    text = str(err).splitlines()
    return text[0] if text else type(err).__name__
