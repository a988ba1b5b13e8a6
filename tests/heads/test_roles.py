"""Nothing in ``biocl/heads`` knows a modality: no argument is named after one."""

from __future__ import annotations

import ast
from pathlib import Path

import biocl.heads

HEADS = Path(biocl.heads.__file__).parent
MODALITY_WORDS = ("audio", "text", "caption", "brain", "meg", "eeg", "speech", "dna", "genome", "sequence")


def test_no_argument_is_named_after_a_modality() -> None:
    named = []
    for path in sorted(HEADS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                named += [f"{path.relative_to(HEADS)}:{node.name}({arg.arg})" for arg in arguments
                          if any(word in arg.arg.lower() for word in MODALITY_WORDS)]
    assert not named, f"arguments named after a modality: {named}"
