"""The one soft-import helper: a missing optional package is a one-line error naming the extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from biocl.utils.errors import BioclError
from biocl.utils.imports import EXTRAS, install_hint, soft_import


def test_an_installed_package_is_returned() -> None:
    assert soft_import("json", "reading a protocol") is sys.modules["json"]


@pytest.mark.parametrize("name", sorted(EXTRAS))
def test_a_missing_package_names_its_extra(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, name, None)  # what a missing package looks like to import
    with pytest.raises(BioclError) as err:
        soft_import(name, "doing the thing", path=tmp_path / "input")
    line = err.value.one_line()
    assert f"doing the thing needs the `{name}` package" in line
    assert f"pip install 'biocl[{EXTRAS[name]}]'" in line and str(tmp_path / "input") in line
    assert install_hint(name) == f"pip install 'biocl[{EXTRAS[name]}]'"


def test_a_package_without_an_extra_is_named_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "biocl_no_such_package", None)
    with pytest.raises(BioclError, match=r"pip install biocl_no_such_package\)$"):
        soft_import("biocl_no_such_package", "testing")
