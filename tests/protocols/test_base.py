"""The protocol schema: validation, overrides and their error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biocl.protocols import base as protocols
from biocl.utils.errors import BioclError
from biocl.protocols.base import Section, ThresholdRule, apply_overrides, load_protocol, parse_overrides


class _Data(Section):
    root: str = "data"
    n_subjects: int = 2


class _Empty(Section):
    pass


@pytest.fixture
def toy_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register toy sections for brain_speech so the schema can be tested on its own."""
    monkeypatch.setitem(protocols._REGISTRY, "brain_speech",
                        protocols.PipelineSections("brain_speech", data=_Data, model=_Empty, loss=_Empty, evaluate=_Empty))


def _write(tmp_path: Path, **changes: object) -> Path:
    raw = {"name": "toy", "version": "1", "pipeline": "brain_speech", "seed": 3,
           "data": {"n_subjects": 4}, "train": {"epochs": 2},
           "acceptance": {"metric": "top10", "threshold": 0.1}}
    raw.update(changes)
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_valid_protocol_loads_with_hash_and_defaults(tmp_path: Path, toy_pipeline: None) -> None:
    path = _write(tmp_path)
    protocol = load_protocol(path)
    assert protocol.data.n_subjects == 4
    assert protocol.data.root == "data"
    assert protocol.train.lr == 3e-4
    assert len(protocol.sha256) == 64
    assert protocol.resolve_path("x/y.fif") == (tmp_path / "x" / "y.fif").resolve()
    assert [p.name for p in protocol.phases()] == ["train"]


def test_overrides_set_nested_values_before_validation(tmp_path: Path, toy_pipeline: None) -> None:
    protocol = load_protocol(_write(tmp_path), ["train.epochs=7", "data.root=/abs", "acceptance.threshold=0.5"])
    assert protocol.train.epochs == 7
    assert protocol.data.root == "/abs"
    assert protocol.acceptance.threshold == 0.5


@pytest.mark.parametrize(
    ("changes", "overrides", "expected"),
    [
        ({"colour": "red"}, [], "unknown key 'colour'"),
        ({"data": {"n_subjekts": 2}}, [], "unknown key 'data.n_subjekts'"),
        ({}, ["train.epochs=many"], "train.epochs"),
        ({}, ["train.learning_rate=1"], "unknown key 'train.learning_rate'"),
        ({"pipeline": "tarot"}, [], "pipeline"),
        ({"acceptance": {"metric": "top10"}}, [], "missing required key 'acceptance.threshold'"),
    ],
)
def test_bad_protocols_name_the_key(tmp_path: Path, toy_pipeline: None, changes: dict, overrides: list[str],
                                    expected: str) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(BioclError) as err:
        load_protocol(path, overrides)
    assert expected in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in err.value.one_line()


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(BioclError, match="not a valid YAML"):
        load_protocol(path)


def test_missing_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="not found"):
        load_protocol(tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(BioclError, match="mapping"):
        load_protocol(tmp_path / "list.yaml")


def test_parse_overrides_reads_yaml_scalars() -> None:
    assert parse_overrides(["a.b=3", "a.c=true", "d=[1, 2]", "e=text", "f="]) == {
        "a.b": 3, "a.c": True, "d": [1, 2], "e": "text", "f": None}
    for bad in ["noequals", "=3", "a..b=1"]:
        with pytest.raises(BioclError, match="section.key=value"):
            parse_overrides([bad])


def test_apply_overrides_indexes_lists_and_copies() -> None:
    raw = {"train": {"phases": [{"epochs": 1}, {"epochs": 2}]}}
    out = apply_overrides(raw, {"train.phases.1.epochs": 5})
    assert out["train"]["phases"][1]["epochs"] == 5
    assert raw["train"]["phases"][1]["epochs"] == 2
    with pytest.raises(BioclError, match="not an index"):
        apply_overrides(raw, {"train.phases.9.epochs": 5})
    with pytest.raises(BioclError, match="is a value"):
        apply_overrides({"a": 1}, {"a.b": 2})


def test_acceptance_comparisons() -> None:
    acceptance = protocols.Acceptance(metric="m", threshold=0.5, comparison=">=")
    assert acceptance.passed(0.5, 0.5) and not acceptance.passed(0.49, 0.5)
    assert protocols.Acceptance(metric="m", threshold=0.5, comparison="<").passed(0.4, 0.5)


@pytest.mark.parametrize(("text", "chance", "baselines", "expected"), [
    (0.5, None, {}, 0.5),
    ("0.25", None, {}, 0.25),
    ("5 x chance", 0.02, {}, 0.1),
    ("chance + 0.1", 0.25, {}, 0.35),
    ("ridge + 0.05", None, {"ridge": 0.3}, 0.35),
    ("canonical_tnf", 0.0, {"canonical_tnf": 0.8}, 0.8),
    ("chance - 0.1", 0.5, {}, 0.4),
])
def test_threshold_rules_resolve_against_the_data(text, chance, baselines, expected) -> None:
    assert ThresholdRule.parse(text).resolve(chance, baselines) == pytest.approx(expected)


def test_threshold_rules_refuse_what_cannot_be_resolved() -> None:
    for text in ("nan", "inf", "-inf", "1e400", "five x chance", True):
        with pytest.raises(ValueError):
            ThresholdRule.parse(text)
    with pytest.raises(BioclError, match="computes no chance"):
        ThresholdRule.parse("5 x chance").resolve(None, {})
    with pytest.raises(BioclError, match="baseline 'ridge'"):
        ThresholdRule.parse("ridge + 0.05").resolve(0.1, {"tnf": 0.2})


def test_chance_is_not_typed_in_a_protocol() -> None:
    with pytest.raises(ValueError, match="computed from the data"):
        protocols.Acceptance(metric="m", threshold=0.5, chance=0.1)
    with pytest.raises(ValueError, match="finite"):
        protocols.Acceptance(metric="m", threshold=float("nan"))


def test_shipped_protocols_validate() -> None:
    shipped = sorted((Path(__file__).resolve().parents[1] / "protocols").glob("*.yaml"))
    for path in shipped:
        protocol = load_protocol(path)
        assert protocol.name == path.stem
