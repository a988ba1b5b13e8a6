"""How every command reads in ``--help``: flags without ``<bool>``, arguments in capitals, global flags listed.

Typer draws a flag as ``--json <bool>`` and an argument as ``{protocol} <str>``. The click
command tree Typer builds is tidied once, before it parses anything: a flag shows no type,
an argument reads ``PROTOCOL`` (``FILES...`` when it takes several, ``[PROTOCOL]`` when it
may be left out) and every command lists the global ``--json``, ``--quiet`` and ``--debug``
(:func:`biocl_cli.main.main` takes them out of the arguments wherever they stand).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import typer
from typer.core import TyperArgument, TyperOption

__all__ = ["GLOBAL_FLAGS", "build_command", "walk_commands"]

#: The flags accepted anywhere on the line, with what ``--help`` says of them.
GLOBAL_FLAGS = {
    "--json": "Print exactly one JSON document on stdout (an error too: {\"error\", \"path\", \"hint\"}).",
    "--quiet": "No logs or progress bars on stderr (run.log still gets everything).",
    "--debug": "Show tracebacks and debug messages.",
}


class _Argument(TyperArgument):
    """An argument that reads ``NAME`` (required) or ``[NAME]`` (optional) and shows no type."""

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        return [] if self.hidden else [self._usage_display_name()]

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_help_record(self, ctx: Any) -> tuple[str, str] | None:
        if self.hidden:
            return None
        return self.display_name_raw, self.help or ""


def walk_commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command of the tree under ``command`` with its words (``("simulate", "meg")``), groups too."""
    found = [(path, command)]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += walk_commands(sub, (*path, name))
    return found


def _tidy_param(param: Any) -> None:
    if isinstance(param, TyperOption) and param.is_flag:
        param.metavar = ""  # `--json`, not `--json <bool>`
    elif isinstance(param, TyperOption) and param.metavar is None and param.multiple:
        # `--set <str> (repeatable)`, not `--set <list[str]>`
        param.metavar = re.sub(r"list\[(.*)\]", r"\1", param.display_type(None)) + " (repeatable)"
    elif isinstance(param, TyperArgument):
        if param.metavar is None:
            param.metavar = param.name.upper() + ("..." if param.nargs != 1 else "")
        param.__class__ = _Argument


def _global_flags(root: Any) -> list[TyperOption]:
    """Copies of the root's --json/--quiet/--debug for a subcommand's help (main() has taken them out)."""
    flags = []
    for param in root.params:
        if isinstance(param, TyperOption) and param.opts[0] in GLOBAL_FLAGS:
            flag = copy.copy(param)
            flag.expose_value = False
            flag.opts = [param.opts[0]]  # `--quiet`; `-q` stays a root alias
            flags.append(flag)
    return flags


def _tidy_help_option(command: Any) -> None:
    """Click makes the --help option when help is drawn; make it a plain flag too."""
    original = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


def build_command(app: typer.Typer) -> Any:
    """The click command of ``app`` with every command's help tidied (see the module docstring)."""
    root = typer.main.get_command(app)
    for path, command in walk_commands(root):
        for param in command.params:
            _tidy_param(param)
    for path, command in walk_commands(root):
        _tidy_help_option(command)
        declared = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if path and not hasattr(command, "commands"):
            command.params += [flag for flag in _global_flags(root) if flag.opts[0] not in declared]
    return root
