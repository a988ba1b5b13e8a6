"""Fixtures of the trainer tests: the toy training job as a module."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

TOY_SCRIPT = Path(__file__).with_name("toy_training.py")


@pytest.fixture(scope="session")
def toy() -> ModuleType:
    """``tests/train/toy_training.py`` imported by path (tests run with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location("biocl_tests_toy_training", TOY_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
