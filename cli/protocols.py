"""`biocl protocols list|show|validate`."""

from __future__ import annotations

from pathlib import Path

import typer

from biocl.utils.errors import BioclError
from biocl.protocols.base import load_protocol, protocol_to_yaml, read_yaml
from biocl_cli.output import emit

app = typer.Typer(help="List, show and validate protocol files.", no_args_is_help=True)

PROTOCOL_DIR = Path(__file__).resolve().parent.parent / "protocols"


def find_protocol(name_or_path: str) -> Path:
    """A protocol path as given, or ``protocols/<name>.yaml`` of this checkout."""
    path = Path(name_or_path)
    if path.exists():
        return path
    candidate = PROTOCOL_DIR / f"{name_or_path.removesuffix('.yaml')}.yaml"
    if candidate.exists():
        return candidate
    raise BioclError("protocol not found", path=name_or_path, hint="see `biocl protocols list`")


@app.command("list")
def list_protocols() -> None:
    """List the protocols shipped in protocols/."""
    rows = []
    for path in sorted(PROTOCOL_DIR.glob("*.yaml")):
        raw = read_yaml(path.read_text(encoding="utf-8")) or {}
        rows.append({"name": raw.get("name", path.stem), "pipeline": raw.get("pipeline", "?"),
                     "version": str(raw.get("version", "?")), "path": str(path),
                     "description": raw.get("description", "")})
    width = max((len(r["name"]) for r in rows), default=4)
    human = "\n".join(f"{r['name']:<{width}}  {r['pipeline']:<15} v{r['version']:<5} {r['description']}" for r in rows)
    emit({"protocols": rows}, human or "no protocols found")


@app.command("show")
def show(protocol: str = typer.Argument(..., help="A protocol file or name."),
         set_: list[str] | None = typer.Option(None, "--set", help="Override: section.key=value.")) -> None:
    """Print a protocol with defaults filled in and overrides applied."""
    loaded = load_protocol(find_protocol(protocol), set_)
    emit({"protocol": loaded.model_dump(mode="json"), "sha256": loaded.sha256}, protocol_to_yaml(loaded).rstrip())


@app.command("validate")
def validate(protocols: list[str] = typer.Argument(..., help="Protocol files or names.")) -> None:
    """Check protocol files against the schema (exit 2 on the first invalid one)."""
    checked = []
    for item in protocols:
        loaded = load_protocol(find_protocol(item))
        checked.append({"path": str(find_protocol(item)), "name": loaded.name, "sha256": loaded.sha256})
    emit({"valid": checked}, "\n".join(f"ok  {c['path']}" for c in checked))
