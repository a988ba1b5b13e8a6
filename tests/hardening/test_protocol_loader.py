"""The one protocol loader (issue #15, classes 1 and 5): no aliases, bounded depth, runnable values only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from biocl.protocols.base import MAX_PROTOCOL_DEPTH, load_protocol, parse_overrides, read_yaml
from biocl.utils.errors import BioclError

REPO = Path(__file__).resolve().parents[2]


def _protocol(tmp_path: Path, base: str, change: dict) -> Path:
    raw = yaml.safe_load((REPO / "protocols" / f"{base}.yaml").read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    start = time.perf_counter()
    with pytest.raises(BioclError, match="anchors and aliases"):
        read_yaml("\n".join(lines))
    assert time.perf_counter() - start < 1.0


def test_a_lone_anchor_is_refused_too() -> None:
    with pytest.raises(BioclError, match="line 2: YAML anchors"):
        read_yaml("a: 1\nb: &b {c: 2}\n")


def test_nesting_is_bounded_before_the_stack_is() -> None:
    assert read_yaml("x: " + "[" * (MAX_PROTOCOL_DEPTH - 1) + "]" * (MAX_PROTOCOL_DEPTH - 1))
    with pytest.raises(BioclError, match=f"more than {MAX_PROTOCOL_DEPTH} levels"):
        read_yaml("x: " + "{a: " * 20_000 + "1" + "}" * 20_000)


def test_set_values_go_through_the_same_loader() -> None:
    with pytest.raises(BioclError, match="anchors and aliases"):
        parse_overrides(["train.phases=[&p {name: x, epochs: 1}, *p]"])
    assert parse_overrides(["train.epochs=3"]) == {"train.epochs": 3}


@pytest.mark.parametrize("seed", [2**64, 2**70, -1])
def test_a_seed_no_generator_takes_is_refused(tmp_path: Path, seed: int) -> None:
    with pytest.raises(BioclError, match="seed"):
        load_protocol(_protocol(tmp_path, "dna_species_quick", {"seed": seed}))


def test_the_largest_seed_is_accepted(tmp_path: Path) -> None:
    assert load_protocol(_protocol(tmp_path, "dna_species_quick", {"seed": 2**63 - 1})).seed == 2**63 - 1


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), "nan x chance", "inf"])
def test_a_non_finite_threshold_is_refused(tmp_path: Path, threshold) -> None:
    with pytest.raises(BioclError, match="acceptance.threshold"):
        load_protocol(_protocol(tmp_path, "dna_species_quick", {"acceptance.threshold": threshold}))


def test_validate_refuses_the_phases_run_refuses(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="unknown phase 'warmup'"):
        load_protocol(_protocol(tmp_path, "audio_temporal_quick", {"train.phases.0.name": "warmup"}))
    with pytest.raises(BioclError, match="unknown loss 'hinge'"):
        load_protocol(_protocol(tmp_path, "audio_temporal_quick", {"train.phases.0.loss": "hinge"}))
    with pytest.raises(BioclError, match="unknown phase 'warmup'"):
        load_protocol(REPO / "protocols" / "audio_temporal_quick.yaml", ["train.phases.1.name=warmup"])


def test_the_dna_schema_names_the_losses_its_pipeline_runs() -> None:
    from biocl.pipelines.dna_species.training import PHASE_LOSSES
    from biocl.protocols import dna_species

    assert dna_species.SECTIONS.phase_losses == PHASE_LOSSES


def test_an_unknown_key_under_a_nested_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BioclError, match="unknown key 'data.simulation.colour'"):
        load_protocol(REPO / "protocols" / "brain_speech_quick.yaml", ["data.simulation.colour=blue"])


def test_no_schema_field_is_untyped() -> None:
    """No ``Any`` or bare ``dict`` escape hatch in any section: every value has a type that bounds it."""
    import typing

    from biocl.protocols.base import _REGISTRY, Acceptance, Phase, TrainConfig

    def walk(model, seen):
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            text = str(info.annotation)
            assert "Any" not in text, f"{model.__name__}.{name}: {text}"
            for arg in typing.get_args(info.annotation) or (info.annotation,):
                if isinstance(arg, type) and hasattr(arg, "model_fields"):
                    walk(arg, seen)

    seen: set = set()
    for sections in _REGISTRY.values():
        for key in ("data", "model", "loss", "evaluate"):
            walk(sections.section(key), seen)
    for model in (Acceptance, Phase, TrainConfig):
        walk(model, seen)
