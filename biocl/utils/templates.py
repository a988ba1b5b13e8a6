"""Caption templates: ``"{a} before {b}"`` filled with sound-class names.

The audio pipeline's protocols hold these templates and its data and evaluation fill them,
so both the schema and the code above it check them with the same rule. A template is a
format string with the placeholders ``{a}`` and ``{b}`` (``{a}`` only for single-sound
templates); one without its placeholders, or with any other placeholder, is refused.
"""

from __future__ import annotations

import string

from biocl.utils.errors import BioclError

__all__ = ["template_problem", "validate_template", "fill_template"]


def template_problem(template: str, placeholders: tuple[str, ...]) -> str | None:
    """Why ``template`` is not a valid caption template with exactly ``placeholders``, or None."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        return f"caption template {template!r} is not a valid format string ({err})"
    missing = [p for p in placeholders if p not in fields]
    unknown = sorted({f for f in fields if f not in placeholders})
    if missing:
        return (f"caption template {template!r} lacks the placeholder(s) "
                f"{', '.join('{' + p + '}' for p in missing)}")
    if unknown:
        return (f"caption template {template!r} has unknown placeholder(s) "
                f"{', '.join('{' + p + '}' for p in unknown)}; use only "
                f"{', '.join('{' + p + '}' for p in placeholders)}")
    return None


def validate_template(template: str, placeholders: tuple[str, ...] = ("a", "b")) -> str:
    """Return ``template`` if it holds each placeholder and no other; raise :class:`BioclError` otherwise."""
    problem = template_problem(template, placeholders)
    if problem is not None:
        raise BioclError(problem, hint="write e.g. '{a} before {b}'")
    return template


def fill_template(template: str, a: str, b: str | None = None) -> str:
    """The caption for sound names ``a`` (and ``b``)."""
    validate_template(template, ("a",) if b is None else ("a", "b"))
    return template.format(a=a) if b is None else template.format(a=a, b=b)
