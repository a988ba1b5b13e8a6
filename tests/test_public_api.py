"""Everything a package declares public is documented (numpydoc docstrings; ``#:`` comments for data).

The packages' ``__all__`` are checked, and so are those of every module inside them: a
name listed there exists and has its own docstring, or, for a constant, a ``#:`` comment
on the line above its assignment (the Sphinx convention).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

PACKAGES = ("biocl.heads", "biocl.heads.functional", "biocl.train", "biocl.encoders", "biocl.encoders.pretrained",
            "biocl.utils")


def _modules() -> list[str]:
    names = set(PACKAGES)
    for package in PACKAGES:
        module = importlib.import_module(package)
        names.update(info.name for info in pkgutil.iter_modules(module.__path__, prefix=package + "."))
    return sorted(names)


def _has_doc_comment(module: ModuleType, name: str) -> bool:
    """Whether ``name`` is assigned in ``module`` (or a module it imports it from) under a ``#:`` comment."""
    candidates = [module]
    source = inspect.getsource(module)
    for match in re.finditer(r"^from (biocl[\w.]*) import \(?([^)]*?)\)?$", source, flags=re.M | re.S):
        if re.search(rf"\b{re.escape(name)}\b", match.group(2)):
            candidates.append(importlib.import_module(match.group(1)))
    for candidate in candidates:
        lines = inspect.getsource(candidate).splitlines()
        for index, line in enumerate(lines):
            if re.match(rf"^(\w+, )*{re.escape(name)}(, \w+)*\s*(:[^=]*)?=", line):
                return index > 0 and lines[index - 1].startswith("#:")
    return False


@pytest.mark.parametrize("module_name", _modules())
def test_every_public_name_is_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__, f"{module_name} has no docstring"
    public = getattr(module, "__all__", None)
    assert public is not None, f"{module_name} declares no __all__"
    undocumented = []
    for name in public:
        assert hasattr(module, name), f"{module_name}.__all__ names {name!r}, which it does not define"
        obj = getattr(module, name)
        if inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
            documented = bool(obj.__doc__ and obj.__doc__.strip())
        else:
            documented = _has_doc_comment(module, name)
        if not documented:
            undocumented.append(name)
    assert not undocumented, f"{module_name}: no docstring (or #: comment) for {undocumented}"
