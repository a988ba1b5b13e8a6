"""One rule for existing outputs: every writing command refuses an existing, non-empty target
with exit 2 and the same message, unless --overwrite (or --resume where a run can continue).

The cheap commands are really run twice; the long ones (a protocol run, training, a model's
embeddings) are refused before any work, which is what is checked there, and their
``--overwrite`` is checked with the long part replaced by a recorder.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from biocl_cli import output
from biocl_cli.main import main

REFUSAL = re.compile(r"^error: (?P<path>\S+): the output (?P<kind>folder|file) already exists and is not empty "
                     r"\(pass (?:--resume (?P<resume>\S+) to continue it, or )?--overwrite to replace it, "
                     r"or choose another --out\)$")
_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_output_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output.state, "json", False)
    monkeypatch.setattr(output.state, "quiet", False)
    monkeypatch.setattr(output.state, "debug", False)
    monkeypatch.setenv("BIOCL_QUIET", "1")


def _refused(capsys: pytest.CaptureFixture, args: list[str], path: Path) -> re.Match[str]:
    capsys.readouterr()
    assert main(["--quiet", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    match = REFUSAL.match(lines[0])
    assert match, lines[0]
    assert Path(match["path"]) == path
    return match


def _ok(capsys: pytest.CaptureFixture, args: list[str]) -> None:
    assert main(["--quiet", *args]) == 0, capsys.readouterr().err


@pytest.fixture(scope="module")
def contigs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from biocl.data.dna.simulate import sample_contigs, simulate_genomes

    folder = tmp_path_factory.mktemp("contigs")
    genomes = simulate_genomes(folder / "genomes", n_species=2, strains_per_species=1, genome_bp=12_000, seed=1)
    reads, _ = sample_contigs(genomes.genomes, folder / "contigs.fa", n_per_genome=4, length_bp=(2_500, 3_000),
                              seed=1)
    return reads


def _report_run(folder: Path) -> Path:
    """A hand-made audio run folder, written by tests/report/conftest.py's writer."""
    spec = importlib.util.spec_from_file_location("report_runs", _ROOT / "tests" / "report" / "conftest.py")
    runs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runs)
    results = {k: v for k, v in runs.RESULTS["audio_temporal"]().items() if k != "figures"}
    return runs.write_run(folder, results, records=[])


@pytest.mark.parametrize("command", ["simulate audio", "simulate dna", "dna embed", "dna bin", "report build",
                                     "report compare"])
def test_a_second_run_is_refused_and_overwrite_replaces(command: str, tmp_path: Path, contigs: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    target = out
    if command == "simulate audio":
        args = ["simulate", "audio", "--out", str(out), "--classes", "2", "--clips-per-class", "1", "--clip-s", "0.2"]
    elif command == "simulate dna":
        args = ["simulate", "dna", "--out", str(out), "--species", "2", "--strains", "1", "--genome-bp", "8000",
                "--contigs-per-genome", "2"]
    elif command == "dna embed":
        target = tmp_path / "emb.npy"
        args = ["dna", "embed", str(contigs), "--out", str(target), "--steps", "0", "--window-bp", "1000",
                "--device", "cpu"]
    elif command == "dna bin":
        args = ["dna", "bin", str(contigs), "--out", str(out), "--features", "tnf", "--min-bin-size", "1",
                "--device", "cpu"]
    elif command == "report build":
        run = _report_run(tmp_path / "run")
        target = run / "report.json"
        args = ["report", "build", str(run), "--format", "json"]
    else:
        run = _report_run(tmp_path / "run")
        args = ["report", "compare", str(run), str(run), "--out", str(out)]
    _ok(capsys, args)
    written = {p: p.stat().st_mtime_ns for p in (target.rglob("*") if target.is_dir() else [target])}
    match = _refused(capsys, args, target)
    assert match["kind"] == ("folder" if target.is_dir() else "file") and match["resume"] is None
    # Refused before any work: nothing was touched.
    assert {p: p.stat().st_mtime_ns for p in written} == written
    _ok(capsys, [*args, "--overwrite"])
    assert target.exists()


def test_overwrite_of_a_simulation_leaves_nothing_of_the_old_one(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "dna", "--out", str(out), "--strains", "1", "--genome-bp", "8000", "--contigs-per-genome", "2"]
    _ok(capsys, [*args, "--species", "3"])
    assert len(list((out / "genomes").glob("*.fa*"))) == 3
    _ok(capsys, [*args, "--species", "2", "--overwrite"])
    assert len(list((out / "genomes").glob("*.fa*"))) == 2


@pytest.mark.parametrize("words", [["simulate", "meg"], ["simulate", "metagenome", "genome.fa"],
                                   ["audio", "pretrain"], ["audio", "posttrain"]])
def test_other_writing_commands_refuse_a_filled_folder(words: list[str], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    words = [str(tmp_path / w) if w.endswith(".fa") else w for w in words]
    _refused(capsys, [*words, "--out", str(out)], out)
    assert (out / "notes.txt").read_text() == "mine\n"


@pytest.mark.parametrize("words", [["audio", "embed", "MODEL", "clip.wav"], ["dna", "train", "contigs.fa"],
                                   ["decode", "evaluate", "RUN"], ["decode", "predict", "RUN", "rec.fif",
                                                                   "--events", "events.tsv"]])
def test_file_writing_commands_refuse_a_filled_file(words: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out.npy"
    out.write_bytes(b"earlier result")
    _refused(capsys, [*[str(tmp_path / w) if "." in w or w.isupper() else w for w in words], "--out", str(out)], out)
    assert out.read_bytes() == b"earlier result"


@pytest.mark.parametrize("command", [["run", "audio_temporal_quick"], ["decode", "train", "brain_speech_quick"],
                                     ["audio", "pretrain", "audio_temporal_quick"],
                                     ["audio", "posttrain", "audio_temporal_quick", "--model", "MODEL"]])
def test_a_run_folder_is_refused_resumed_or_replaced(command: list[str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    from biocl_cli import run

    calls = []

    def recorder(protocol, folder, *, resume=False):
        calls.append((folder, resume, sorted(p.name for p in Path(folder).iterdir())))
        raise KeyboardInterrupt  # stop where the pipeline would start

    monkeypatch.setattr(run, "run_protocol", recorder)
    monkeypatch.setattr("biocl.pipelines.run_protocol", recorder)
    command = [str(tmp_path / w) if w == "MODEL" else w for w in command]
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text("{}\n")
    match = _refused(capsys, [*command, "--out", str(out)], out)
    assert Path(match["resume"]) == out  # the refusal names the way to continue it
    assert calls == []
    assert main(["--quiet", *command, "--resume", str(out)]) == 130
    assert calls[-1] == (out, True, ["metrics.jsonl"])
    assert main(["--quiet", *command, "--out", str(out), "--overwrite"]) == 130
    assert calls[-1] == (out, False, [])  # emptied: no checkpoint of the old run is resumed by mistake
