"""`make results`: the published numbers in README and docs, regenerated from run folders.

Every block between ``<!-- results:start NAME -->`` and ``<!-- results:end -->`` in
``README.md`` and ``docs/*.md`` is rewritten from the run of protocol ``NAME``: its primary
endpoint and the report's curated metric table. ``--run`` first runs the quick protocols
(as ``make demo``); without it the newest run folder of each protocol under ``--runs`` is
used. Text outside the markers is never touched, so hand-written prose stays and the
numbers cannot drift from what the code gives.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from biocl.utils.errors import BioclError

__all__ = ["MARKER", "rewrite_blocks", "results_block", "main"]

#: ``<!-- results:start NAME -->`` ... ``<!-- results:end -->``, NAME a protocol name.
MARKER = re.compile(r"(<!-- results:start (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- results:end -->)", re.S)
_ROOT = Path(__file__).resolve().parent.parent


def rewrite_blocks(text: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """Replace the body of every marked block whose NAME is in ``blocks``.

    Returns
    -------
    text : str
        The new text; blocks without a new body are left as they are.
    rewritten : list of str
        The names of the blocks rewritten.
    """
    rewritten: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            return match[0]
        rewritten.append(name)
        return match[1] + blocks[name].rstrip("\n") + "\n" + match[4]

    return MARKER.sub(replace, text), rewritten


def results_block(run_dir: Path) -> str:
    """The markdown a block shows for one run: primary endpoint, then the curated metric table."""
    from biocl.report.builder import read_run
    from biocl.report.page import endpoint_summary
    from biocl.report.tables import curated_metric_table

    run = read_run(run_dir)
    summary = endpoint_summary(run.endpoint)
    verdict = "PASS" if run.endpoint["passed"] else "FAIL"
    lines = [f"Primary endpoint: **{summary['metric']} = {summary['value']}** (95 % CI {summary['ci']}); "
             f"passes when {summary['rule']}: **{verdict}**. From run `{run.run_id}` "
             f"(biocl {run.get('environment', 'biocl', default='?')}, commit "
             f"{str(run.get('environment', 'git_commit', default='unknown'))[:12]}).", ""]
    table = curated_metric_table(run)
    if table is not None:
        lines.append("| " + " | ".join(table["columns"]) + " |")
        lines.append("|" + "---|" * len(table["columns"]))
        lines += ["| " + " | ".join(cell["text"] for cell in row) + " |" for row in table["rows"]]
    return "\n".join(lines) + "\n"


def _newest_runs(runs: Path, names: Iterable[str]) -> dict[str, Path]:
    found = {}
    for name in names:
        candidates = sorted((p for p in runs.glob(f"{name}*") if (p / "results.json").is_file()),
                            key=lambda p: p.stat().st_mtime)
        if candidates:
            found[name] = candidates[-1]
    return found


def _documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the marked result blocks; exit 2 when a block names a protocol with no run."""
    from biocl_cli.demo import QUICK_PROTOCOLS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/results"), help="where the run folders are")
    parser.add_argument("--run", action="store_true", help="run the quick protocols first (minutes)")
    parser.add_argument("--root", type=Path, default=_ROOT, help="the checkout whose README and docs to rewrite")
    args = parser.parse_args(argv)
    try:
        if args.run:
            from biocl_cli import demo

            if demo.main(["--out", str(args.runs)]) != 0:
                return 2
        documents = _documents(args.root)
        wanted = sorted({m["name"] for doc in documents if doc.is_file()
                         for m in MARKER.finditer(doc.read_text(encoding="utf-8"))})
        runs = _newest_runs(args.runs, wanted or QUICK_PROTOCOLS)
        missing = [name for name in wanted if name not in runs]
        if missing:
            raise BioclError(f"no finished run of {', '.join(missing)}", path=args.runs,
                             hint="run `make results` (it runs the quick protocols), or pass --runs DIR")
        blocks = {name: results_block(path) for name, path in runs.items()}
        for doc in documents:
            if not doc.is_file():
                continue
            text, rewritten = rewrite_blocks(doc.read_text(encoding="utf-8"), blocks)
            if rewritten:
                doc.write_text(text, encoding="utf-8")
                print(f"{doc}: rewrote {', '.join(rewritten)}")
    except BioclError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
