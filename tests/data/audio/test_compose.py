"""Compositions have the right length and order; overlays are level-matched; templates are checked."""

from __future__ import annotations

import numpy as np
import pytest

from biocl.data.audio.compose import compose, concatenate, overlay
from biocl.utils.templates import fill_template, template_problem, validate_template
from biocl.utils.errors import BioclError


def _clips() -> tuple[np.ndarray, np.ndarray]:
    a = np.full(100, 0.1, dtype=np.float32)
    b = np.full(100, -0.4, dtype=np.float32)
    return a, b


@pytest.mark.parametrize("gap", [0, 7])
def test_forward_and_reversed_joins_have_length_and_order(gap: int) -> None:
    a, b = _clips()
    forward = compose(a, b, "forward", gap_samples=gap)
    reverse = compose(a, b, "reversed", gap_samples=gap)
    assert forward.shape == reverse.shape == (200 + gap,)
    assert np.array_equal(forward[:100], a) and np.array_equal(forward[100 + gap:], b)
    assert np.array_equal(reverse[:100], b) and np.array_equal(reverse[100 + gap:], a)
    assert not forward[100:100 + gap].any()


def test_overlay_is_level_matched_and_as_long_as_the_longer() -> None:
    rng = np.random.default_rng(0)
    a = (0.1 * rng.standard_normal(200)).astype(np.float32)
    b = (0.8 * rng.standard_normal(150)).astype(np.float32)
    mixed = overlay(a, b)
    assert mixed.shape == (200,)
    rms = lambda x: float(np.sqrt(np.mean(np.asarray(x, dtype=float) ** 2)))  # noqa: E731
    # B is zero-padded to 200 samples, then scaled to A's level; no peak limiting at these levels.
    assert abs(rms(mixed - a) - rms(a)) < 1e-5
    assert np.allclose((mixed - a)[:150] / b, (mixed - a)[0] / b[0], atol=1e-4)
    assert np.array_equal(compose(a, b, "overlay"), mixed)


def test_overlay_never_clips() -> None:
    a = np.full(10, 0.9, dtype=np.float32)
    mixed = overlay(a, a.copy())
    assert np.abs(mixed).max() <= 0.99 + 1e-6


def test_compositions_are_deterministic() -> None:
    a, b = _clips()
    for kind in ("forward", "reversed", "overlay"):
        assert np.array_equal(compose(a, b, kind), compose(a, b, kind))


def test_bad_gap_and_kind() -> None:
    a, b = _clips()
    with pytest.raises(BioclError, match="gap"):
        concatenate(a, b, gap_samples=-1)
    with pytest.raises(BioclError, match="unknown composition"):
        compose(a, b, "after")


def test_templates_need_their_placeholders() -> None:
    assert fill_template("{a} before {b}", "dog", "siren") == "dog before siren"
    assert fill_template("this is a sound of {a}", "rain") == "this is a sound of rain"
    with pytest.raises(BioclError, match=r"lacks the placeholder\(s\) \{b\}") as err:
        validate_template("{a} before the other one")
    assert "\n" not in err.value.one_line()
    with pytest.raises(BioclError, match="unknown placeholder"):
        validate_template("{a} before {b} and {c}")
    assert template_problem("{a} then {b", ("a", "b")) is not None
    assert template_problem("{b} after {a}", ("a", "b")) is None


def test_protocol_rejects_a_template_without_placeholders() -> None:
    from biocl.protocols.base import validate_protocol

    raw = {"name": "t", "version": "1", "pipeline": "audio_temporal",
           "data": {"captions": {"before": "first then second"}},
           "acceptance": {"metric": "zste_task3_after", "threshold": 0.5}}
    with pytest.raises(BioclError, match="data.captions.before.*placeholder") as err:
        validate_protocol(raw, "x.yaml")
    assert "\n" not in err.value.one_line()
