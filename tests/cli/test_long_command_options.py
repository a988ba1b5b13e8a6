"""Every long-running command takes --device and --threads; every writing command --overwrite; runs --resume."""

from __future__ import annotations

import pytest

from biocl_cli.help import build_command, walk_commands
from biocl_cli.main import app

LONG_RUNNING = ["run", "decode train", "audio pretrain", "audio posttrain", "audio embed", "dna embed", "dna bin",
                "dna train"]
WRITING = [*LONG_RUNNING, "decode evaluate", "decode predict", "simulate meg", "simulate dna", "simulate audio",
           "simulate metagenome", "report build", "report compare"]
RESUMABLE = ["run", "decode train", "audio pretrain", "audio posttrain"]


def _options() -> dict[str, set[str]]:
    return {" ".join(path): {opt for param in command.params for opt in getattr(param, "opts", [])}
            for path, command in walk_commands(build_command(app)) if not hasattr(command, "commands")}


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_commands_take_device_and_threads(name: str) -> None:
    assert {"--device", "--threads"} <= _options()[name]


@pytest.mark.parametrize("name", WRITING)
def test_writing_commands_take_overwrite(name: str) -> None:
    assert "--overwrite" in _options()[name]


def test_every_command_that_writes_is_listed_here() -> None:
    """A new command with --out must join WRITING (and so the existing-output tests)."""
    with_out = {name for name, options in _options().items() if "--out" in options}
    assert with_out <= set(WRITING), sorted(with_out - set(WRITING))


@pytest.mark.parametrize("name", RESUMABLE)
def test_runs_take_resume(name: str) -> None:
    assert "--resume" in _options()[name]
