"""Fuzzing the protocol loader and --set overrides: parse or raise BioclError, nothing else."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from biocl.utils.errors import BioclError
from biocl.protocols.base import apply_overrides, load_protocol, parse_overrides

_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(["name", "version", "pipeline", "seed", "data", "model", "loss", "train", "evaluate",
                         "acceptance", "colour", "train.epochs", "acceptance.threshold"])


@_FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes(tmp_path_factory, content: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_bytes(content)
    try:
        load_protocol(path)
    except BioclError:
        pass


@_FUZZ
@given(st.dictionaries(_keys, _yaml_values, max_size=8),
       st.sampled_from(["brain_speech", "dna_species", "audio_temporal", "other", None]))
def test_arbitrary_mappings(tmp_path_factory, raw: dict, pipeline: str | None) -> None:
    if pipeline is not None:
        raw["pipeline"] = pipeline
    path = tmp_path_factory.mktemp("fuzz") / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    try:
        load_protocol(path)
    except BioclError:
        pass


@_FUZZ
@given(st.lists(st.text(max_size=30), max_size=4))
def test_arbitrary_overrides(pairs: list[str]) -> None:
    try:
        overrides = parse_overrides(pairs)
        apply_overrides({"train": {"phases": [{"epochs": 1}]}, "seed": 0}, overrides)
    except BioclError:
        pass


def test_overrides_fuzz_on_a_shipped_protocol() -> None:
    shipped = sorted((Path(__file__).resolve().parents[2] / "protocols").glob("*_quick.yaml"))
    for path in shipped:
        for pair in ["train.epochs=-1", "train.lr=zero", "data=3", "acceptance.metric=", "seed=1.5",
                     "train.phases.0.trainable=7", "evaluate.nothing=1"]:
            try:
                load_protocol(path, [pair])
            except BioclError:
                pass
