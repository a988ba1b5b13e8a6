"""Issue #15: a corpus of inputs nobody here wrote, driven through the real command line.

Same rules as ``test_bad_input_corpus.py`` (generated inputs, ``biocl`` subprocesses, one
line, exit 2, no traceback, nothing left where the command was told to write), plus cases
that must *succeed* byte-exactly (non-ASCII sequence ids, FIFOs, stdin) and cases whose
message must not echo what it read. The table of outcomes is printed at the end of the
session and copied into docs/hardening.md.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BIOCL = Path(sys.executable).parent / "biocl"
_spec = importlib.util.spec_from_file_location("biocl_corpus_bases", HERE / "test_bad_input_corpus.py")
bases = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bases  # dataclasses look their module up
_spec.loader.exec_module(bases)


@dataclass
class Case:
    """One hostile input; ``expect`` is the exit code it must end with (2: refused, 0: handled)."""

    name: str
    args: list[str]
    culprit: str = ""  # refusals: a file name the message must contain
    problem: str = ""  # refusals: words the message must contain
    out: Path | None = None  # must hold no file afterwards (refusals)
    expect: int = 2
    forbid: tuple[str, ...] = ()  # text that must not appear in the output (echoed secrets, bad advice)
    stdin: bytes | None = None
    pre: object = None  # callable run just before the command (FIFO writers)
    returncode: int | None = None
    stderr: str = ""
    stdout: str = ""
    wall_s: float = 0.0
    maxrss_kb: int = 0
    extra: dict = field(default_factory=dict)


def protocol_from(base: str, path: Path, change: dict, drop: tuple[str, ...] = ()) -> Path:
    raw = yaml.safe_load((REPO / "protocols" / f"{base}.yaml").read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[last] = value
    for dotted in drop:
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node.pop(last, None)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def billion_laughs(path: Path) -> Path:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*lol{level - 1}"] * 10)
        lines.append(f"lol{level}: &lol{level} [{refs}]")
    base = (REPO / "protocols" / "dna_species_quick.yaml").read_text(encoding="utf-8")
    base = base.replace("limitations:", "limitations: *lol9\nold_limitations:", 1)
    path.write_text("\n".join(lines) + "\n" + base, encoding="utf-8")
    return path


def deep_mapping(path: Path, depth: int = 20_000) -> Path:
    base = (REPO / "protocols" / "dna_species_quick.yaml").read_text(encoding="utf-8")
    path.write_text(base + "\nx: " + "{a: " * depth + "1" + "}" * depth + "\n", encoding="utf-8")
    return path


def write_recording(root: Path, names: list[str], *, montage: bool = True, onsets: tuple = (1.0, 1.4)) -> Path:
    """A one-recording EEG BIDS data set like the bad-input corpus's, with its channels and events chosen."""
    import mne
    import soundfile as sf

    rng = np.random.default_rng(0)
    raw = mne.io.RawArray(1e-5 * rng.standard_normal((len(names), 6000)), mne.create_info(names, 300.0, "eeg"),
                          verbose="error")
    if montage:
        raw.set_montage("standard_1020", verbose="error")
    folder = root / "sub-01" / "eeg"
    folder.mkdir(parents=True)
    recording = folder / f"{bases.RECORDING}.fif"
    raw.save(recording, verbose="error")
    (root / "stimuli").mkdir()
    sf.write(root / "stimuli" / "sentence.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    rows = "".join(f"{onset}\t0.3\tw{i}\thello world\t{i}\tstimuli/sentence.wav\t{0.4 * i}\n"
                   for i, onset in enumerate(onsets))
    (folder / bases.EVENTS).write_text("onset\tduration\tword\tsentence\tword_index\tsound\tsound_onset\n" + rows,
                                       encoding="utf-8")
    return recording


ACCENTED = ["uni_é_1", "uni_è_1", "naïve_contig", "e\u0301_decomposed", "x" * 5000]


def _fasta_bytes(ids: list[str], length_bp: int = 3000, seed: int = 4) -> bytes:
    rng = np.random.default_rng(seed)
    return b"".join(f">{i}\tdescription with\ttabs\n".encode() + "".join(rng.choice(list("ACGT"), length_bp)).encode()
                    + b"\n" for i in ids)


def build_corpus(base: Path) -> list[Case]:  # noqa: C901 - one block per class, in the issue's order
    outs = base / "outs"
    cases: list[Case] = []
    add = cases.append
    protocols = base / "protocols"
    protocols.mkdir()

    # 1. Protocol memory and recursion.
    laughs = billion_laughs(protocols / "laughs.yaml")
    add(Case("billion laughs (validate)", ["protocols", "validate", str(laughs)], laughs.name, "alias"))
    add(Case("billion laughs (show)", ["protocols", "show", str(laughs)], laughs.name, "alias"))
    add(Case("billion laughs (run)", ["run", str(laughs), "--out", str(outs / "laughs")], laughs.name, "alias",
             outs / "laughs"))
    deep = deep_mapping(protocols / "deep.yaml")
    add(Case("20,000-deep mapping (validate)", ["protocols", "validate", str(deep)], deep.name, "deep"))

    # 2. Paths: a protocol may not read system files, and never prints what it read.
    secret = "root:x:0:0"
    add(Case("data.root=/etc/passwd (--set)", bases._audio_run(Path("/etc/passwd"), outs / "etc_set"), "/etc/passwd",
             "system location", outs / "etc_set", forbid=(secret,)))
    climb = protocol_from("audio_temporal_quick", protocols / "climb.yaml",
                          {"data.source": "manifest", "data.root": "../" * 30 + "etc/passwd"})
    add(Case("data.root ../../etc/passwd (protocol file)", ["run", str(climb), "--out", str(outs / "climb")],
             "passwd", "system location", outs / "climb", forbid=(secret,)))
    private = base / "private"
    private.mkdir()
    (private / "notes.csv").write_text("my-password-hunter2;not,a,manifest\n", encoding="utf-8")
    add(Case("manifest quoting the file's first line", bases._audio_run(private / "notes.csv", outs / "notes"),
             "notes.csv", "manifest needs", outs / "notes", forbid=("hunter2",)))

    # 3. Sequence ids are UTF-8 text, byte-exact.
    dna = base / "dna"
    dna.mkdir()
    accented = dna / "accented.fa"
    accented.write_bytes(_fasta_bytes(ACCENTED))
    add(Case("accented ids (dna bin)", ["dna", "bin", str(accented), "--features", "tnf", "--min-bin-size", "1",
                                        "--out", str(outs / "accented_bin")], expect=0,
             extra={"ids_file": outs / "accented_bin" / "clusters.tsv"}))
    add(Case("accented ids (dna embed)", ["dna", "embed", str(accented), "--steps", "0", "--device", "cpu",
                                          "--window-bp", "1000", "--out", str(outs / "accented_embed" / "e.npy")],
             expect=0, extra={"ids_file": outs / "accented_embed" / "e.ids.txt"}))

    # 4. Output problems found at the start.
    plain = dna / "plain.fa"
    plain.write_bytes(_fasta_bytes([f"c{i}" for i in range(6)]))
    a_file = base / "a_file"
    a_file.write_text("keep me\n")
    add(Case("--out is a file (dna bin)", ["dna", "bin", str(plain), "--features", "tnf", "--out", str(a_file)],
             a_file.name, "is a file"))
    add(Case("--out under a file (dna embed)", ["dna", "embed", str(plain), "--steps", "0", "--device", "cpu",
                                                "--out", str(a_file / "e.npy")], a_file.name, "is a file"))
    add(Case("--out is a file (run)", ["run", "dna_species_quick", "--out", str(a_file)], a_file.name, "is a file"))
    add(Case("--out is a file (simulate dna)", ["simulate", "dna", "--out", str(a_file), "--species", "2"],
             a_file.name, "is a file"))

    # 5. The schema refuses what cannot run; validate and run accept the same protocols.
    big_seed = protocol_from("dna_species_quick", protocols / "big_seed.yaml", {"seed": 2 ** 70})
    add(Case("seed beyond 64 bits", ["protocols", "validate", str(big_seed)], big_seed.name, "seed"))
    nested = protocol_from("brain_speech_quick", protocols / "nested.yaml", {"data.simulation.colour": "blue"})
    add(Case("unknown key under a nested mapping", ["protocols", "validate", str(nested)], nested.name,
             "unknown key 'data.simulation.colour'"))
    nan = protocols / "nan_threshold.yaml"
    nan.write_text((REPO / "protocols" / "dna_species_quick.yaml").read_text(encoding="utf-8")
                   .replace("threshold:", "threshold: .nan\n  old_threshold:", 1), encoding="utf-8")
    add(Case("NaN threshold", ["protocols", "validate", str(nan)], nan.name, "finite"))
    inf = protocol_from("dna_species_quick", protocols / "inf_threshold.yaml", {"acceptance.threshold": float("inf")})
    add(Case("infinite threshold", ["protocols", "validate", str(inf)], inf.name, "finite"))
    phase = protocol_from("audio_temporal_quick", protocols / "phase.yaml", {"train.phases.0.name": "warmup"})
    add(Case("unknown phase name (validate)", ["protocols", "validate", str(phase)], phase.name, "unknown phase"))

    # 6. Messages say what is true.
    folder = dna / "a_folder.fa"
    folder.mkdir()
    add(Case("directory as FASTA", ["dna", "bin", str(folder), "--features", "tnf", "--out", str(outs / "dir_fa")],
             folder.name, "is a folder", outs / "dir_fa"))
    fifo = dna / "stream.fa"
    os.mkfifo(fifo)
    payload = _fasta_bytes([f"f{i}" for i in range(4)])
    add(Case("FIFO as FASTA (dna embed)", ["dna", "embed", str(fifo), "--steps", "0", "--device", "cpu",
                                           "--window-bp", "1000", "--out", str(outs / "fifo" / "e.npy")],
             expect=0, pre=lambda: _feed_fifo(fifo, payload), extra={"ids_file": outs / "fifo" / "e.ids.txt"}))
    add(Case("stdin '-' as FASTA (dna embed)", ["dna", "embed", "-", "--steps", "0", "--device", "cpu",
                                                "--window-bp", "1000", "--out", str(outs / "stdin" / "e.npy")],
             expect=0, stdin=payload, extra={"ids_file": outs / "stdin" / "e.ids.txt"}))
    all_n = dna / "all_n.fa"
    all_n.write_bytes(_fasta_bytes([f"c{i}" for i in range(6)]) + b">only_n\n" + b"N" * 3000 + b"\n")
    add(Case("all-N contig (dna bin)", ["dna", "bin", str(all_n), "--features", "tnf", "--min-bin-size", "1",
                                        "--out", str(outs / "all_n")], expect=0,
             extra={"unbinned": outs / "all_n" / "unbinned.tsv"}))
    root = base / "late_events"
    write_recording(root, bases.EEG_NAMES, onsets=(100.0, 100.4))
    add(Case("events beyond the recording end", bases._brain_run(root, outs / "late_events"), bases.EVENTS,
             "after the recording ends", outs / "late_events", forbid=("batch size",)))
    root = base / "one_channel"
    recording = write_recording(root, ["Cz"])
    add(Case("one-channel recording", bases._brain_run(root, outs / "one_channel"), recording.name,
             "1 MEG/EEG channel", outs / "one_channel", forbid=("stores no channel locations",)))
    root = base / "no_positions"
    recording = write_recording(root, [f"E{i}" for i in range(8)], montage=False)
    add(Case("recording without positions", bases._brain_run(root, outs / "no_positions"), recording.name,
             "--set data.montage", outs / "no_positions", forbid=("read_recording(",)))
    hostile = base / "hostile_run"
    add(Case("hostile state for --resume", ["run", "dna_species_quick", "--resume", str(hostile)], "state",
             "not a biocl training state", forbid=("weights_only", "Traceback"),
             pre=lambda: _hostile_run(hostile)))
    model = bases.write_clap_model(base / "model")
    import soundfile as sf

    tiny = base / "one_sample.wav"
    sf.write(tiny, np.array([0.5], dtype=np.float32), 16000)
    add(Case("1-sample clip (audio embed)", ["audio", "embed", str(model), str(tiny), "--out",
                                             str(outs / "tiny" / "a.npy")], expect=0,
             extra={"warning": "less than one analysis window"}))
    return cases


def _feed_fifo(fifo: Path, payload: bytes) -> None:
    import threading

    def feed() -> None:
        with open(fifo, "wb") as handle:
            handle.write(payload)

    threading.Thread(target=feed, daemon=True).start()


def _hostile_run(folder: Path) -> None:
    """A run folder whose training state is a pickle that would write a file when unpickled."""
    import pickle

    class Payload:
        def __reduce__(self):
            return (open, (str(folder / "PWNED"), "w"))

    ckpt = folder / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    with open(ckpt / "last.state.pt", "wb") as handle:
        pickle.dump({"state": Payload()}, handle)
    (folder / "protocol.resolved.yaml").write_text((REPO / "protocols" / "dna_species_quick.yaml").read_text())


def _run(case: Case, cwd: Path, env: dict[str, str]) -> Case:
    if callable(case.pre):
        case.pre()
    start = time.perf_counter()
    proc = subprocess.Popen([str(BIOCL), "--quiet", *case.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=cwd, env=env)
    try:
        out, err = proc.communicate(case.stdin or b"", timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    case.wall_s = time.perf_counter() - start
    case.returncode = proc.returncode
    case.stdout, case.stderr = out.decode(errors="replace"), err.decode(errors="replace")
    return case


def _files_under(path: Path | None) -> list[str]:
    if path is None or not path.exists():
        return []
    if path.is_file():
        return [str(path)]
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if not p.is_dir())


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].replace("|", "\\|")[:240] if lines else ""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, Case]:
    base = tmp_path_factory.mktemp("hostile")
    cases = build_corpus(base)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BIOCL_QUIET": "1", "BIOCL_CACHE": str(base / "cache"),
           "BIOCL_CHROMIUM": "/nonexistent/chromium"}
    # The billion laughs are timed alone, the rest three at a time.
    laughs = [c for c in cases if c.name.startswith("billion")]
    control = _run(Case("control", ["protocols", "validate", str(REPO / "protocols" / "dna_species_quick.yaml")],
                        expect=0), base, env)
    done = [_run(c, base, env) for c in laughs]
    request.config.biocl_laughs = {"control_s": control.wall_s,
                                   "children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}
    with ThreadPoolExecutor(max_workers=3) as pool:
        done += list(pool.map(lambda case: _run(case, base, env), [c for c in cases if c not in laughs]))
    rows = [f"| {c.name} | {c.returncode} | `{_first_line(c.stderr) or '(ok) ' + _first_line(c.stdout)}` |"
            for c in done]
    table = "| case | exit code | message |\n|---|---|---|\n" + "\n".join(rows)
    request.config.biocl_hostile_table = table.replace(str(base) + "/", "")
    (base / "table.md").write_text(request.config.biocl_hostile_table + "\n", encoding="utf-8")
    return {case.name: case for case in done}


CASE_NAMES = [
    "billion laughs (validate)", "billion laughs (show)", "billion laughs (run)", "20,000-deep mapping (validate)",
    "data.root=/etc/passwd (--set)", "data.root ../../etc/passwd (protocol file)",
    "manifest quoting the file's first line",
    "accented ids (dna bin)", "accented ids (dna embed)",
    "--out is a file (dna bin)", "--out under a file (dna embed)", "--out is a file (run)",
    "--out is a file (simulate dna)",
    "seed beyond 64 bits", "unknown key under a nested mapping", "NaN threshold", "infinite threshold",
    "unknown phase name (validate)",
    "directory as FASTA", "FIFO as FASTA (dna embed)", "stdin '-' as FASTA (dna embed)", "all-N contig (dna bin)",
    "events beyond the recording end", "one-channel recording", "recording without positions",
    "hostile state for --resume", "1-sample clip (audio embed)",
]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_input_ends_as_promised(corpus: dict[str, Case], name: str) -> None:
    case = corpus[name]
    text = case.stderr + case.stdout
    assert "Traceback" not in text and "internal error" not in text, text[-3000:]
    for bad in case.forbid:
        assert bad not in text, f"the output contains {bad!r}: {text[-1000:]}"
    assert case.returncode == case.expect, (case.returncode, text[-3000:])
    if case.expect == 2:
        lines = case.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), case.stderr
        assert case.culprit in lines[0], f"the message does not name {case.culprit}: {lines[0]}"
        assert case.problem in lines[0], f"the message does not say {case.problem!r}: {lines[0]}"
        assert _files_under(case.out) == [], f"partial output left behind: {_files_under(case.out)}"


def test_the_billion_laughs_are_refused_fast_and_small(corpus: dict[str, Case], request: pytest.FixtureRequest) -> None:
    """Under 5 s beyond what validating a shipped protocol takes (starting Python and torch), in under 2 GB."""
    measured = request.config.biocl_laughs
    for name in ("billion laughs (validate)", "billion laughs (show)", "billion laughs (run)"):
        assert corpus[name].wall_s < measured["control_s"] + 5.0, (name, corpus[name].wall_s, measured)
    # The largest resident set of any biocl process so far (the laughs ran first); expanded, they need > 5 GB.
    assert measured["children_maxrss_kb"] < 2 * 1024 * 1024, measured


def test_ids_are_byte_exact_in_every_output(corpus: dict[str, Case]) -> None:
    expected = [i.encode("utf-8") for i in ACCENTED]
    clusters = corpus["accented ids (dna bin)"].extra["ids_file"].read_bytes().splitlines()[1:]
    assert [line.split(b"\t")[0] for line in clusters] == expected
    assert corpus["accented ids (dna embed)"].extra["ids_file"].read_bytes().splitlines() == expected
    for name in ("FIFO as FASTA (dna embed)", "stdin '-' as FASTA (dna embed)"):
        assert corpus[name].extra["ids_file"].read_bytes().splitlines() == [f"f{i}".encode() for i in range(4)]


def test_an_all_n_contig_is_said_to_have_no_unambiguous_bases(corpus: dict[str, Case]) -> None:
    rows = corpus["all-N contig (dna bin)"].extra["unbinned"].read_text(encoding="utf-8").splitlines()
    reasons = {line.split("\t")[0]: line.split("\t")[2] for line in rows[1:]}
    assert reasons["only_n"] == "no_unambiguous_bases"


def test_a_clip_shorter_than_one_window_is_warned_about(corpus: dict[str, Case]) -> None:
    case = corpus["1-sample clip (audio embed)"]
    assert case.stderr.startswith("warning: ") and case.extra["warning"] in case.stderr, case.stderr


def test_the_hostile_state_never_ran(corpus: dict[str, Case], tmp_path_factory: pytest.TempPathFactory) -> None:
    assert not list(Path(tmp_path_factory.getbasetemp()).rglob("PWNED"))


def test_the_corpus_covers_every_case(corpus: dict[str, Case]) -> None:
    assert sorted(corpus) == sorted(CASE_NAMES)
