"""A corpus of bad inputs driven through the real command line.

Every file is generated here from a valid base (no binary blobs in the repository); each
case breaks one thing. Each command runs as a ``biocl`` subprocess and must end with exit
code 2 and exactly one line on stderr that names the offending file and the problem, with
no traceback, and must leave no partial output where it was told to write. A control test
checks that each valid base reads, so every refusal is caused by the one broken thing.

The table of cases and outcomes is printed at the end of the session (see conftest.py)
and copied into docs/hardening.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from biocl.utils.errors import BioclError

REPO = Path(__file__).resolve().parents[2]
BIOCL = Path(sys.executable).parent / "biocl"
EEG_NAMES = ["Fz", "Cz", "Pz", "Oz", "C3", "C4", "P3", "P4"]
RECORDING = "sub-01_task-listen_eeg"
EVENTS = "sub-01_task-listen_events.tsv"


@dataclass
class Case:
    """One bad input: the command that reads it and what its refusal must say."""

    name: str
    args: list[str]
    culprit: str  # file name the message must contain
    problem: str  # words of the problem the message must contain
    out: Path  # where the command was told to write; must hold no file afterwards
    returncode: int | None = None
    stderr: str = ""
    stdout: str = ""
    extra: dict = field(default_factory=dict)


# --- valid bases ---------------------------------------------------------------------------


def write_bids(root: Path, *, bad_values: bool = False) -> Path:
    """A one-recording EEG data set listening to one sentence; returns the recording file."""
    import mne
    import soundfile as sf

    rng = np.random.default_rng(0)
    data = 1e-5 * rng.standard_normal((len(EEG_NAMES), 6000))
    if bad_values:
        data[0, 100:200] = np.nan
        data[3, 50] = np.inf
    raw = mne.io.RawArray(data, mne.create_info(EEG_NAMES, 300.0, "eeg"), verbose="error")
    raw.set_montage("standard_1020", verbose="error")
    folder = root / "sub-01" / "eeg"
    folder.mkdir(parents=True)
    recording = folder / f"{RECORDING}.fif"
    raw.save(recording, verbose="error")
    (root / "stimuli").mkdir()
    sf.write(root / "stimuli" / "sentence.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    (folder / EVENTS).write_text(
        "onset\tduration\tword\tsentence\tword_index\tsound\tsound_onset\n"
        "1.0\t0.3\thello\thello world\t0\tstimuli/sentence.wav\t0.0\n"
        "1.4\t0.3\tworld\thello world\t1\tstimuli/sentence.wav\t0.4\n", encoding="utf-8")
    return recording


def write_fasta(path: Path, ids: list[str], length_bp: int = 3000) -> Path:
    rng = np.random.default_rng(1)
    path.write_text("".join(f">{i} test sequence\n{''.join(rng.choice(list('ACGT'), length_bp))}\n" for i in ids))
    return path


def write_clips(folder: Path, n_classes: int = 3, per_class: int = 4) -> list[tuple[str, str]]:
    """Short noise clips, ``per_class`` per class; returns ``(relative path, label)`` rows."""
    import soundfile as sf

    rng = np.random.default_rng(2)
    folder.mkdir(parents=True)
    rows = []
    for k in range(n_classes):
        for i in range(per_class):
            name = f"class{k}_{i}.wav"
            sf.write(folder / name, (0.2 * rng.standard_normal(8000)).astype(np.float32), 16000)
            rows.append((f"{folder.name}/{name}", f"class{k}"))
    return rows


def write_manifest(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in rows), encoding="utf-8")
    return path


def write_clap_model(folder: Path) -> Path:
    """A small randomly initialised biocl CLAP model folder, as a run's model/ holds."""
    import torch

    from biocl.encoders.audio import LogMelCNN
    from biocl.encoders.clap import CompactClap
    from biocl.encoders.text import TextTransformer, WordTokenizer

    torch.manual_seed(0)
    tokenizer = WordTokenizer.build(["a sound of class0", "class1 before class2"])
    text = TextTransformer(vocab_size=len(tokenizer), d_model=16, n_layers=1, n_heads=2, ff_dim=32, max_tokens=8)
    CompactClap(LogMelCNN.tiny(), text, tokenizer, embed_dim=8).save(folder)
    return folder


def write_protocol(path: Path, change: dict) -> Path:
    raw = yaml.safe_load((REPO / "protocols" / "dna_species_quick.yaml").read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = raw
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


# --- the corpus ----------------------------------------------------------------------------


def _brain_run(root: Path, out: Path) -> list[str]:
    return ["run", "brain_speech_quick", "--set", "data.source=bids", "--set", f"data.bids_root={root}",
            "--out", str(out)]


def _audio_run(manifest: Path, out: Path) -> list[str]:
    return ["run", "audio_temporal_quick", "--set", "data.source=manifest", "--set", f"data.root={manifest}",
            "--set", "data.on_bad=error", "--out", str(out)]


def build_corpus(base: Path) -> list[Case]:
    """Write every bad input under ``base`` and return the cases, outputs not yet created."""
    import soundfile as sf

    outs = base / "outs"
    cases: list[Case] = []

    def add(name: str, args: list[str], culprit: str, problem: str, out: Path) -> None:
        cases.append(Case(name, args, culprit, problem, out))

    # M/EEG and BIDS, read by `biocl run brain_speech_quick` with a BIDS root.
    root = base / "truncated_fif"
    recording = write_bids(root)
    content = recording.read_bytes()
    recording.write_bytes(content[: len(content) * 6 // 10])
    add("truncated FIF", _brain_run(root, outs / "truncated_fif"), recording.name, "cannot read",
        outs / "truncated_fif")

    root = base / "edf_header"
    recording = write_bids(root)
    recording.unlink()
    edf = recording.with_suffix(".edf")
    edf.write_bytes(b"0       " + b"not an EDF header".ljust(248) + bytes(2048))
    add("EDF with a wrong header", _brain_run(root, outs / "edf_header"), edf.name, "cannot read",
        outs / "edf_header")

    root = base / "no_events"
    recording = write_bids(root)
    (recording.parent / EVENTS).unlink()
    add("BIDS without events.tsv", _brain_run(root, outs / "no_events"), EVENTS, "no events.tsv",
        outs / "no_events")

    root = base / "missing_audio"
    write_bids(root)
    (root / "stimuli" / "sentence.wav").unlink()
    add("events naming missing audio", _brain_run(root, outs / "missing_audio"), "sentence.wav", "does not exist",
        outs / "missing_audio")

    root = base / "nan_channels"
    recording = write_bids(root, bad_values=True)
    add("NaN/Inf channels", _brain_run(root, outs / "nan_channels"), recording.name, "NaN or infinite",
        outs / "nan_channels")

    # DNA, read by `biocl dna embed` and `biocl dna bin`.
    dna = base / "dna"
    dna.mkdir()
    garbage = dna / "garbage.fa"
    garbage.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    add("FASTA of binary garbage", ["dna", "embed", str(garbage), "--steps", "0", "--device", "cpu",
                                    "--out", str(outs / "garbage" / "embeddings.npy")],
        garbage.name, "not a FASTA", outs / "garbage")
    empty = dna / "empty.fq"
    empty.write_bytes(b"")
    add("empty FASTQ", ["dna", "bin", str(empty), "--features", "tnf", "--out", str(outs / "empty_fastq")],
        empty.name, "empty", outs / "empty_fastq")
    duplicates = write_fasta(dna / "duplicates.fa", ["contig_1", "contig_2", "contig_1"])
    add("duplicate sequence ids", ["dna", "embed", str(duplicates), "--steps", "0", "--device", "cpu",
                                   "--out", str(outs / "duplicates" / "embeddings.npy")],
        duplicates.name, "duplicate sequence id", outs / "duplicates")
    add("duplicate sequence ids (binning)", ["dna", "bin", str(duplicates), "--features", "tnf",
                                             "--out", str(outs / "duplicates_bin")],
        duplicates.name, "duplicate sequence id", outs / "duplicates_bin")

    # Sounds, read by `biocl run audio_temporal_quick` with a manifest and on_bad=error.
    audio = base / "audio_zero"
    audio.mkdir()
    rows = write_clips(audio / "clips")
    sf.write(audio / "clips" / "zero.wav", np.zeros(0, dtype=np.float32), 16000)
    manifest = write_manifest(audio / "manifest.csv", [*rows, ("clips/zero.wav", "class0")])
    add("WAV of zero length", _audio_run(manifest, outs / "zero_wav"), "zero.wav", "zero-length",
        outs / "zero_wav")
    audio = base / "audio_missing"
    audio.mkdir()
    rows = write_clips(audio / "clips")
    manifest = write_manifest(audio / "manifest.csv", [*rows, ("clips/not_there.wav", "class1")])
    add("manifest with a missing file", _audio_run(manifest, outs / "missing_file"), "not_there.wav",
        "missing file", outs / "missing_file")

    # Single files, read by `biocl audio embed` with a saved model.
    model = write_clap_model(base / "model")
    audio = base / "audio_embed"
    audio.mkdir()
    zero = audio / "empty_clip.wav"
    sf.write(zero, np.zeros(0, dtype=np.float32), 16000)
    add("WAV of zero length (audio embed)", ["audio", "embed", str(model), str(zero),
                                             "--out", str(outs / "embed_zero" / "audio.npy")],
        zero.name, "zero-length", outs / "embed_zero")
    nan = audio / "nan_clip.wav"
    samples = np.zeros(8000, dtype=np.float32)
    samples[100:200] = np.nan
    sf.write(nan, samples, 16000, subtype="FLOAT")
    add("WAV with NaN samples (audio embed)", ["audio", "embed", str(model), str(nan),
                                               "--out", str(outs / "embed_nan" / "audio.npy")],
        nan.name, "NaN", outs / "embed_nan")

    # Protocols.
    protocols = base / "protocols"
    protocols.mkdir()
    unknown = write_protocol(protocols / "unknown_key.yaml", {"train.colour": "blue"})
    add("protocol with an unknown key", ["protocols", "validate", str(unknown)], unknown.name,
        "unknown key 'train.colour'", outs / "unknown_key")
    wrong = write_protocol(protocols / "wrong_type.yaml", {"train.epochs": "many"})
    add("protocol with a wrong type", ["run", str(wrong), "--out", str(outs / "wrong_type")], wrong.name,
        "train.epochs", outs / "wrong_type")
    add("--set with a wrong type", ["run", "dna_species_quick", "--set", "train.lr=fast", "--out",
                                    str(outs / "set_wrong_type")], "dna_species_quick.yaml", "train.lr",
        outs / "set_wrong_type")
    return cases


def _run(case: Case, cwd: Path, env: dict[str, str]) -> Case:
    done = subprocess.run([str(BIOCL), "--quiet", *case.args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=600)
    case.returncode, case.stdout, case.stderr = done.returncode, done.stdout, done.stderr
    return case


def _files_under(path: Path) -> list[str]:
    if path.is_file():
        return [str(path)]
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if not p.is_dir()) if path.exists() else []


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, Case]:
    base = tmp_path_factory.mktemp("corpus")
    cases = build_corpus(base)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BIOCL_QUIET": "1", "BIOCL_CACHE": str(base / "cache"),
           "BIOCL_CHROMIUM": "/nonexistent/chromium"}
    # Each biocl process spends most of its time importing; three overlap well on two cores.
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(lambda case: _run(case, base, env), cases))
    rows = [f"| {c.name} | {c.returncode} | `{_first_line(c.stderr)}` |" for c in done]
    table = "| case | exit code | message |\n|---|---|---|\n" + "\n".join(rows)
    request.config.biocl_corpus_table = table.replace(str(base) + "/", "")
    return {case.name: case for case in done}


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].replace("|", "\\|") if lines else ""


CASE_NAMES = [
    "truncated FIF", "EDF with a wrong header", "BIDS without events.tsv", "events naming missing audio",
    "NaN/Inf channels", "FASTA of binary garbage", "empty FASTQ", "duplicate sequence ids",
    "duplicate sequence ids (binning)", "WAV of zero length", "manifest with a missing file",
    "WAV of zero length (audio embed)",
    "WAV with NaN samples (audio embed)",
    "protocol with an unknown key", "protocol with a wrong type", "--set with a wrong type"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_is_refused_in_one_line(corpus: dict[str, Case], name: str) -> None:
    case = corpus[name]
    lines = case.stderr.strip().splitlines()
    assert "Traceback" not in case.stderr + case.stdout, case.stderr[-3000:]
    assert case.returncode == 2, (case.returncode, case.stderr[-3000:])
    assert len(lines) == 1, case.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert case.culprit in line, f"the message does not name {case.culprit}: {line}"
    assert case.problem in line, f"the message does not say '{case.problem}': {line}"
    assert _files_under(case.out) == [], f"partial output left behind: {_files_under(case.out)}"


def test_the_corpus_covers_every_case(corpus: dict[str, Case]) -> None:
    names = [name.values[0] if hasattr(name, "values") else name for name in CASE_NAMES]
    assert sorted(corpus) == sorted(names)


def test_each_valid_base_reads(tmp_path: Path) -> None:
    """Controls: the bases the corpus breaks are valid, so each refusal has the one intended cause."""
    from biocl.data.audio.reading import load_audio_dataset
    from biocl.data.meg.bids import read_bids
    from biocl.data.dna.fasta import read_sequences
    from biocl.protocols.base import load_protocol

    write_bids(tmp_path / "bids")
    recordings = read_bids(tmp_path / "bids")
    assert len(recordings) == 1 and [e.word for e in recordings[0].events] == ["hello", "world"]
    records = list(read_sequences(write_fasta(tmp_path / "ok.fa", ["a", "b"]), min_length_bp=0))
    assert [r.id for r in records] == ["a", "b"]
    rows = write_clips(tmp_path / "clips")
    dataset = load_audio_dataset(write_manifest(tmp_path / "manifest.csv", rows), layout="manifest",
                                 sample_rate_hz=16000, on_bad="error")
    assert len(dataset.clips) == len(rows)
    assert load_protocol(write_protocol(tmp_path / "p.yaml", {"train.epochs": 2})).train.epochs == 2
    with pytest.raises(BioclError, match="train.epochs"):
        load_protocol(write_protocol(tmp_path / "q.yaml", {"train.epochs": "many"}))
