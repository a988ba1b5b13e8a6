"""Acceptance thresholds as rules: absolute, or relative to chance or to a named baseline.

A protocol fixes the rule before the run (``0.6``, ``"5 x chance"``, ``"ridge + 0.05"``);
:func:`biocl.pipelines.primary_endpoint` resolves it against the run's own chance level and
baselines after it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from biocl.utils.errors import BioclError

__all__ = ["ThresholdRule"]


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_THRESHOLD_FORMS = (
    # "0.5": an absolute value
    (re.compile(rf"^(?P<offset>{_NUMBER})$"), "absolute"),
    # "5 x chance", "1.2 * ridge"
    (re.compile(rf"^(?P<factor>{_NUMBER})\s*[x*×]\s*(?P<reference>[A-Za-z_][\w.]*)$"), "times"),
    # "chance + 0.1", "ridge + 0.05", "canonical_tnf"
    (re.compile(rf"^(?P<reference>[A-Za-z_][\w.]*)(?:\s*(?P<sign>[-+])\s*(?P<offset>{_NUMBER}))?$"), "plus"),
)


@dataclass(frozen=True)
class ThresholdRule:
    """An acceptance threshold: absolute, or relative to chance or to a named baseline.

    ``threshold = factor * reference + offset``, where ``reference`` is ``None`` (absolute),
    ``"chance"`` (the chance level computed from the data at run time) or the name of a
    baseline in the run's results (its value of the same metric).
    """

    reference: str | None
    factor: float = 1.0
    offset: float = 0.0

    @classmethod
    def parse(cls, text: str | float) -> ThresholdRule:
        """Read ``0.5``, ``"5 x chance"``, ``"chance + 0.1"``, ``"ridge + 0.05"`` or ``"ridge"``."""
        if isinstance(text, bool):
            raise ValueError("a threshold is a number or a rule such as '5 x chance', not a boolean")
        if isinstance(text, (int, float)):
            return cls._checked(None, 1.0, float(text))
        for pattern, form in _THRESHOLD_FORMS:
            match = pattern.match(str(text).strip())
            if match is None:
                continue
            if form == "absolute":
                return cls._checked(None, 1.0, float(match["offset"]))
            if form == "times":
                return cls._checked(match["reference"], float(match["factor"]), 0.0)
            offset = float(match["offset"] or 0.0) * (-1.0 if match["sign"] == "-" else 1.0)
            return cls._checked(match["reference"], 1.0, offset)
        raise ValueError(f"cannot read the threshold {str(text)[:60]!r}: write a number (0.5), "
                         "'5 x chance', 'chance + 0.1' or '<baseline> + 0.05'")

    @classmethod
    def _checked(cls, reference: str | None, factor: float, offset: float) -> ThresholdRule:
        if reference is not None and reference.lower() in ("nan", "inf", "infinity"):
            factor = float(reference)
        if not (math.isfinite(factor) and math.isfinite(offset)):
            raise ValueError("a threshold must be finite (no NaN or infinity: every verdict would fail)")
        return cls(reference, factor, offset)

    def resolve(self, chance: float | None, baselines: dict[str, float]) -> float:
        """The threshold's value for this run, given the data's chance level and baseline values.

        Raises
        ------
        BioclError
            When the rule refers to a chance level or a baseline the run did not compute.
        """
        if self.reference is None:
            return self.offset
        if self.reference == "chance":
            if chance is None:
                raise BioclError("the acceptance threshold refers to chance, but this run computes no chance "
                                 "level for its metric", hint="write an absolute threshold")
            reference = chance
        elif self.reference in baselines:
            reference = baselines[self.reference]
        else:
            known = ", ".join(sorted(baselines)) or "none"
            raise BioclError(f"the acceptance threshold refers to the baseline {self.reference!r}, which this "
                             f"run does not report for its metric (baselines: {known})",
                             hint="name one of them, or enable that baseline in the protocol's evaluate section")
        return self.factor * reference + self.offset

    def __str__(self) -> str:
        if self.reference is None:
            return f"{self.offset:g}"
        if self.factor != 1.0:
            return f"{self.factor:g} x {self.reference}"
        return self.reference if self.offset == 0 else f"{self.reference} {'+' if self.offset > 0 else '-'} " \
                                                        f"{abs(self.offset):g}"
