"""Fuzzing the readers of user files: every input parses or raises BioclError, nothing else escapes.

Covered: FASTA/FASTQ (plain, gzip, bzip2, truncated archives) and gold standards
(:mod:`biocl.data.dna.fasta`), audio manifests and the clips they list (:mod:`biocl.data.audio.reading`),
and BIDS ``events.tsv`` in both styles (:mod:`biocl.data.meg.bids`). Each property runs on
arbitrary bytes and on structured inputs that look like the real format, because random
bytes rarely get past a reader's first check. Example counts are bounded so the whole
module runs in seconds.
"""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from biocl.data.audio.reading import list_manifest, load_audio_dataset, read_audio
from biocl.data.meg.bids import parse_events_tsv
from biocl.data.dna.fasta import read_gold_standard, read_sequences
from biocl.utils.errors import BioclError

_FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Characters a damaged or foreign sequence file holds: nucleotides, IUPAC codes, soft-masking,
# gaps, protein letters, control characters and non-ASCII.
_SEQUENCE_CHARS = st.sampled_from(list("ACGTNacgtnRYKMU-*.XEFJ \t\r\x00\x7fé>@+"))
_LINE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=20)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per module; each example overwrites the same file names."""
    return tmp_path_factory.mktemp("fuzz_readers")


def _wrapped(content: bytes, wrapping: str) -> bytes:
    if wrapping == "gzip":
        return gzip.compress(content)
    if wrapping == "bzip2":
        return bz2.compress(content)
    if wrapping == "truncated gzip":
        packed = gzip.compress(content)
        return packed[: max(2, len(packed) // 2)]
    return content


def _parse_or_refuse(call) -> object:
    """Run ``call``; a BioclError is an accepted outcome and must read as one line."""
    try:
        return call()
    except BioclError as err:
        assert "\n" not in err.one_line()
        return None


# --- FASTA / FASTQ ------------------------------------------------------------------------


@st.composite
def _fasta_like(draw) -> bytes:
    records = draw(st.lists(st.tuples(_LINE_TEXT, st.lists(st.text(_SEQUENCE_CHARS, max_size=30), max_size=3)),
                            max_size=4))
    text = "".join(f">{header}\n" + "".join(line + "\n" for line in lines) for header, lines in records)
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def _fastq_like(draw) -> bytes:
    records = draw(st.lists(st.tuples(_LINE_TEXT, st.text(_SEQUENCE_CHARS, max_size=20),
                                      st.sampled_from(["+", "+x", "-", ""]), st.integers(-2, 2)), max_size=4))
    parts = []
    for header, seq, separator, quality_offset in records:
        quality = "I" * max(0, len(seq) + quality_offset)
        parts.append(f"@{header}\n{seq}\n{separator}\n{quality}\n")
    text = "".join(parts)
    if draw(st.booleans()) and text:
        text = text[: draw(st.integers(0, len(text)))]  # cut anywhere, as a failed download does
    return text.encode("utf-8", errors="surrogatepass")


_WRAPPINGS = st.sampled_from(["plain", "gzip", "bzip2", "truncated gzip"])


@_FUZZ
@given(content=st.binary(max_size=300), wrapping=_WRAPPINGS)
@example(content=b"", wrapping="plain")
@example(content=b"\x1f\x8b", wrapping="plain")
@example(content=b">a\nACGT\n>a\nACGT\n", wrapping="gzip")
def test_sequence_reader_on_arbitrary_bytes(workdir: Path, content: bytes, wrapping: str) -> None:
    path = workdir / "reads.fa"
    path.write_bytes(_wrapped(content, wrapping))
    _parse_or_refuse(lambda: list(read_sequences(path, min_length_bp=0)))


@_FUZZ
@given(content=st.one_of(_fasta_like(), _fastq_like()), wrapping=_WRAPPINGS,
       ambiguous=st.sampled_from(["mask", "skip"]), min_length_bp=st.sampled_from([0, 1, 10]))
def test_sequence_reader_on_sequence_like_text(workdir: Path, content: bytes, wrapping: str, ambiguous: str,
                                               min_length_bp: int) -> None:
    path = workdir / "reads.fq"
    path.write_bytes(_wrapped(content, wrapping))
    records = _parse_or_refuse(lambda: list(read_sequences(path, min_length_bp=min_length_bp, ambiguous=ambiguous)))
    for record in records or []:
        # What the reader hands on is the documented contract: upper-case ACGTN, unique ids.
        assert set(record.seq) <= set("ACGTN") and record.length_bp == len(record.seq) >= min_length_bp
    if records:
        assert len({r.id for r in records}) == len(records)


@_FUZZ
@given(content=st.one_of(st.binary(max_size=200),
                         st.lists(st.lists(_LINE_TEXT, max_size=3).map("\t".join), max_size=5)
                         .map(lambda lines: "\n".join(lines).encode("utf-8", errors="surrogatepass"))),
       wrapping=_WRAPPINGS, header=st.sampled_from(["", "@@SEQUENCEID\tBINID\n", "@@SEQUENCEID\tTAXID\tX\n",
                                                    "@@BINID\n", "sequence_id\tlabel\n"]))
def test_gold_standard_reader(workdir: Path, content: bytes, wrapping: str, header: str) -> None:
    path = workdir / "gold.tsv"
    path.write_bytes(_wrapped(header.encode() + content, wrapping))
    labels = _parse_or_refuse(lambda: read_gold_standard(path))
    assert labels is None or (labels and all(key and value for key, value in labels.items()))


# --- audio manifests and clips ---------------------------------------------------------------


def _write_clips(folder: Path) -> dict[str, Path]:
    """One file of every kind a manifest may point at: good, empty, zero frames, garbage, NaN."""
    import soundfile as sf

    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    clips = {"good.wav": 0.3 * rng.standard_normal(800).astype(np.float32),
             "zero_frames.wav": np.zeros(0, dtype=np.float32),
             "silent.wav": np.zeros(800, dtype=np.float32),
             "nan.wav": np.full(800, np.nan, dtype=np.float32)}
    for name, samples in clips.items():
        sf.write(folder / name, samples, 8000, subtype="FLOAT")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "garbage.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(40)))
    return {path.name: path for path in folder.iterdir()}


@pytest.fixture(scope="module")
def clip_folder(workdir: Path) -> Path:
    _write_clips(workdir / "clips")
    return workdir / "clips"


@_FUZZ
@given(content=st.binary(max_size=300))
@example(content=b"\xff\xfe\x00path,label\n")
@example(content=b"path,label\n" + b"x" * 200_000 + b",a\n")
def test_manifest_reader_on_arbitrary_bytes(workdir: Path, content: bytes) -> None:
    path = workdir / "manifest.csv"
    path.write_bytes(content)
    _parse_or_refuse(lambda: list_manifest(path))


_CLIP_NAMES = st.sampled_from(["clips/good.wav", "clips/zero_frames.wav", "clips/silent.wav", "clips/nan.wav",
                               "clips/empty.wav", "clips/garbage.wav", "clips/absent.wav", "clips", "",
                               "/dev/null", "../clips/good.wav", "x" * 300 + ".wav"])
_CELL = st.one_of(_CLIP_NAMES, st.text(max_size=12), st.just('"'), st.just(""))


@_FUZZ
@given(columns=st.lists(st.sampled_from(["path", "label", "caption", "group", "extra"]), min_size=1, max_size=5),
       rows=st.lists(st.lists(_CELL, min_size=0, max_size=6), max_size=6),
       on_bad=st.sampled_from(["exclude", "error"]), min_duration_s=st.sampled_from([0.0, 0.05, 10.0]))
def test_audio_dataset_from_manifest(workdir: Path, clip_folder: Path, columns: list[str], rows: list[list[str]],
                                     on_bad: str, min_duration_s: float) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    path = workdir / "manifest.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogatepass")
    dataset = _parse_or_refuse(lambda: load_audio_dataset(path, layout="manifest", sample_rate_hz=8000,
                                                          on_bad=on_bad, min_duration_s=min_duration_s))
    if dataset is not None:
        assert dataset.clips, "a data set with no usable clip must be refused, not returned empty"
        for clip in dataset.clips:
            assert clip.waveform is not None and clip.waveform.size and np.isfinite(clip.waveform).all()


@_FUZZ
@given(content=st.binary(max_size=200), prefix=st.sampled_from([b"", b"RIFF", b"RIFF\x24\x00\x00\x00WAVEfmt ",
                                                                b"fLaC", b"OggS"]))
def test_read_audio_on_arbitrary_bytes(workdir: Path, content: bytes, prefix: bytes) -> None:
    path = workdir / "clip.wav"
    path.write_bytes(prefix + content)
    samples = _parse_or_refuse(lambda: read_audio(path, 8000))
    assert samples is None or (samples.dtype == np.float32 and samples.ndim == 1)


# --- BIDS events.tsv -----------------------------------------------------------------------

_EVENT_COLUMNS = ["onset", "duration", "word", "trial_type", "sound", "sentence", "word_index", "sound_onset"]
_NUMBER_TEXT = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                         st.sampled_from(["n/a", "", "nan", "inf", "-0", "1e400", "0x10", "1_000"]))
_LITERAL_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**20), st.floats(allow_nan=True),
                            st.text(max_size=8), st.lists(st.integers(), max_size=2),
                            st.sampled_from(["stimuli/a.wav", "stimuli/A.0.wav", "missing.wav", "word"]))
_TRIAL_TYPES = st.one_of(
    st.dictionaries(st.sampled_from(["kind", "word", "sound", "story", "sound_id", "sequence_id", "start",
                                     "word_index"]), _LITERAL_VALUES, max_size=6).map(repr),
    st.sampled_from(["{'kind': 'word', 'word': 'the', 'sound': 'stimuli/a.wav'}", "{", "{nan: inf}",
                     "{'kind': 'word', 'word': __import__('os')}", "word", "n/a", "{" * 60]),
    _LINE_TEXT,
)
_EVENT_CELL = st.one_of(_NUMBER_TEXT, _TRIAL_TYPES, _LITERAL_VALUES.map(str), _LINE_TEXT)


@pytest.fixture(scope="module")
def bids_root(workdir: Path) -> Path:
    root = workdir / "bids"
    (root / "stimuli").mkdir(parents=True)
    (root / "stimuli" / "a.wav").write_bytes(b"RIFF")
    return root


@_FUZZ
@given(content=st.binary(max_size=300))
@example(content=b"\xff\xfeonset\n")
@example(content=b"onset\tword\n1\thello\textra\tcells\n")
def test_events_tsv_on_arbitrary_bytes(bids_root: Path, content: bytes) -> None:
    path = bids_root / "sub-01_task-x_events.tsv"
    path.write_bytes(content)
    _parse_or_refuse(lambda: parse_events_tsv(path, bids_root=bids_root))


@st.composite
def _events_table(draw) -> tuple[list[str], list[list[str]]]:
    """A header (usually with onset first) and rows of mostly the header's width."""
    others = draw(st.lists(st.sampled_from(_EVENT_COLUMNS[1:]), max_size=5, unique=True))
    columns = (["onset"] if draw(st.integers(0, 9)) else []) + others or ["onset"]
    width = st.integers(len(columns) - 1, len(columns) + 1) if draw(st.booleans()) else st.just(len(columns))
    rows = draw(st.lists(width.flatmap(lambda n: st.lists(_EVENT_CELL, min_size=max(n, 0), max_size=max(n, 0))),
                         max_size=5))
    return columns, rows


@_FUZZ
@given(table=_events_table())
@example(table=(["onset", "word"], [["abc", "hello"]]))
@example(table=(["onset", "word", "word_index"], [["1", "a", "1e400"]]))
@example(table=(["onset", "trial_type"], [["1", "{'kind': 'word', 'word': 'a', 'story': [1]}"]]))
def test_events_tsv_rows(bids_root: Path, table: tuple[list[str], list[list[str]]]) -> None:
    columns, rows = table
    text = "\t".join(columns) + "\n" + "".join("\t".join(c.replace("\t", " ").replace("\n", " ") for c in row)
                                               + "\n" for row in rows)
    path = bids_root / "sub-01_task-x_events.tsv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    events = _parse_or_refuse(lambda: parse_events_tsv(path, bids_root=bids_root))
    for event in events or []:
        assert np.isfinite(event.onset_s) and event.word == event.word.strip()
    if events:
        assert [e.onset_s for e in events] == sorted(e.onset_s for e in events)


def test_a_trial_type_literal_is_never_executed(bids_root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = bids_root / "sub-01_task-y_events.tsv"
    path.write_text("onset\ttrial_type\n1.0\t{'kind': 'word', 'word': __import__('pathlib').Path("
                    f"{str(marker)!r}).touch()}}\n", encoding="utf-8")
    with pytest.raises(BioclError, match="not a Python literal"):
        parse_events_tsv(path, bids_root=bids_root)
    assert not marker.exists()
