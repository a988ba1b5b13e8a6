"""`make results`: marked blocks of README/docs rewritten from run folders, nothing else touched."""

from __future__ import annotations

from pathlib import Path

from biocl_cli.results import main, rewrite_blocks

DOC = """# Title

Hand-written prose, kept.

<!-- results:start dna_species_quick -->
ARI 0.875 (stale, typed by hand)
<!-- results:end -->

More prose | 0.875 | outside the markers stays.

<!-- results:start other_protocol -->
untouched
<!-- results:end -->
"""


def test_rewrite_only_the_named_blocks() -> None:
    text, rewritten = rewrite_blocks(DOC, {"dna_species_quick": "new body\n"})
    assert rewritten == ["dna_species_quick"]
    assert "<!-- results:start dna_species_quick -->\nnew body\n<!-- results:end -->" in text
    assert "stale" not in text and "More prose | 0.875 |" in text and "untouched" in text
    assert rewrite_blocks(text, {"dna_species_quick": "new body\n"})[0] == text  # idempotent


def test_main_rewrites_readme_and_docs_from_runs(tmp_path: Path, make_run, results_of, capsys) -> None:
    root = tmp_path / "checkout"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text(DOC.replace("other_protocol", "dna_species_quick"), encoding="utf-8")
    (root / "docs" / "dna.md").write_text(DOC.split("More prose")[0], encoding="utf-8")
    runs = tmp_path / "runs"
    runs.mkdir()
    make_run(results_of("dna_species"), name="runs/dna_species_quick-20260101T000000")
    assert main(["--runs", str(runs), "--root", str(root)]) == 0
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert readme.count("Primary endpoint: **few-shot species accuracy = 0.650** (95 % CI 0.500 to 0.800)") == 2
    assert "| few-shot species accuracy | proportion, 0-1 | 0.650 [0.500 to 0.800] | 0.450 |" in readme
    assert "Hand-written prose, kept." in readme and "stale" not in readme
    assert "Primary endpoint" in (root / "docs" / "dna.md").read_text(encoding="utf-8")


def test_a_block_without_a_run_is_an_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "README.md").write_text(DOC, encoding="utf-8")
    assert main(["--runs", str(tmp_path / "none"), "--root", str(tmp_path)]) == 2
    assert "no finished run of dna_species_quick, other_protocol" in capsys.readouterr().err
