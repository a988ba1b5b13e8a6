"""The house rules: imports point down the layers, and no module imports itself round a circle.

``cli -> pipelines -> report -> {encoders, train, evaluate} -> {data, heads} -> protocols -> utils``:
a module may import its own folder and any folder on a lower layer, never one beside or
above it (``heads/`` knows no modality, nothing imports ``cli/``). Imports inside functions
count too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {
    "utils": 0,
    "protocols": 1,
    "data": 2, "heads": 2,
    "encoders": 3, "train": 3, "evaluate": 3,
    "report": 4,
    "pipelines": 5,
    "cli": 6,
}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in (("biocl", "biocl"), ("cli", "biocl_cli")):
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "biocl_cli":
        return "cli"
    return parts[1] if len(parts) > 1 else None  # the top-level package may re-export anything


def _imports(module: str) -> set[str]:
    """The project modules ``module`` imports, anywhere in its body."""
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


GRAPH = {module: _imports(module) for module in MODULES}


def test_every_folder_has_a_layer() -> None:
    rooms = {_room(module) for module in MODULES} - {None}
    assert rooms <= set(LAYERS), f"folders without a layer: {sorted(rooms - set(LAYERS))}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    room = _room(module)
    if room is None:
        return
    upward = [target for target in sorted(GRAPH[module])
              if _room(target) not in (None, room) and LAYERS[_room(target)] >= LAYERS[room]]
    assert not upward, f"{module} ({room}) imports {', '.join(upward)}: a folder beside or above it"


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(MODULES):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_checker_sees_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "loss.py"
    fake.write_text("def f():\n    from biocl.data.dna.fasta import read_sequences\n")
    monkeypatch.setitem(MODULES, "biocl.heads.fake_loss", fake)
    assert "biocl.data.dna.fasta" in _imports("biocl.heads.fake_loss")
