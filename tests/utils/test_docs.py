"""Shared parameter text: every placeholder in the package resolves, and fill_doc indents to fit."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import biocl
from biocl.utils.docs import docdict, fill_doc

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
PACKAGE_ROOT = Path(biocl.__file__).parent


def _documented_objects(module):
    """The module's own functions and classes, and the classes' methods and properties."""
    for _, obj in inspect.getmembers(module):
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield obj
        elif inspect.isclass(obj):
            yield obj
            for member in vars(obj).values():
                target = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                if inspect.isfunction(target):
                    yield target


def test_every_placeholder_in_the_sources_names_an_entry() -> None:
    unknown = {f"{path.relative_to(PACKAGE_ROOT)}: {name}"
               for path in PACKAGE_ROOT.rglob("*.py") if path.name != "docs.py"
               for name in PLACEHOLDER.findall(path.read_text(encoding="utf-8")) if name not in docdict}
    assert not unknown, f"placeholders without a docdict entry: {sorted(unknown)}"


def test_every_placeholder_is_filled_at_import() -> None:
    left = []
    for info in pkgutil.walk_packages(biocl.__path__, prefix="biocl."):
        if info.name == "biocl.utils.docs":  # fill_doc's own docstring shows the syntax
            continue
        module = importlib.import_module(info.name)
        left += [f"{info.name}.{obj.__qualname__}" for obj in _documented_objects(module)
                 if obj.__doc__ and PLACEHOLDER.search(obj.__doc__)]
    assert not left, f"docstrings with an unfilled placeholder (missing @fill_doc?): {left}"


def test_entries_are_numpydoc_parameters() -> None:
    for name, text in docdict.items():
        first, *rest = text.splitlines()
        assert " : " in first and not first.startswith(" "), name
        assert rest and all(line.startswith("    ") for line in rest), name


def test_fill_doc_indents_entries_to_the_parameter_level() -> None:
    def function(seed: int) -> None:
        """Do something.

        Parameters
        ----------
        %(seed)s
        other : int
            Another one.
        """

    class Holder:
        def method(self, tau: float) -> None:
            """Do something else.

            Parameters
            ----------
            %(tau)s
            """

    lines = fill_doc(function).__doc__.splitlines()
    seed_lines = docdict["seed"].splitlines()
    start = lines.index("        " + seed_lines[0])
    assert lines[start + 1:start + len(seed_lines)] == ["        " + line for line in seed_lines[1:]]
    assert lines[start + len(seed_lines)] == "        other : int"
    method_lines = fill_doc(Holder.method).__doc__.splitlines()
    tau_lines = docdict["tau"].splitlines()
    start = method_lines.index("            " + tau_lines[0])
    assert method_lines[start + 1] == "            " + tau_lines[1]
    assert "%(" not in "\n".join(method_lines)


def test_fill_doc_refuses_an_unknown_entry_and_leaves_other_percent_signs() -> None:
    def typo() -> None:
        """Parameters
        ----------
        %(sede)s
        """

    with pytest.raises(KeyError, match="sede"):
        fill_doc(typo)

    def inline() -> None:
        """A 50%(ish) share, not a placeholder line."""

    assert fill_doc(inline).__doc__ == "A 50%(ish) share, not a placeholder line."
