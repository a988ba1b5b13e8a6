"""Input security: checkpoints are never unpickled, remote code runs only when asked, paths stay put.

Related tests elsewhere: protocols are read with ``yaml.safe_load`` (a ``!!python`` tag is
refused: ``tests/protocols/test_base.py::test_yaml_is_loaded_safely``); user strings in
``report.html`` are escaped (``tests/report/test_report_builder.py::test_user_strings_are_escaped``);
an events.tsv ``trial_type`` is parsed, never evaluated
(``tests/hardening/test_fuzz_readers.py::test_a_trial_type_literal_is_never_executed``).
"""

from __future__ import annotations

import ast
import os
import types
from pathlib import Path

import pytest
import torch
import yaml

from biocl.utils.errors import BioclError

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(REPO / "biocl").rglob("*.py"), *(REPO / "cli").rglob("*.py")])


# --- what the sources may not do --------------------------------------------------------------


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _problems(source: str) -> list[str]:
    """Calls that could run code hidden in a user's file, or download or shell out."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        where = f"line {node.lineno}: {name}"
        if name == "torch.load" and not _is_true(_keyword(node, "weights_only")):
            found.append(f"{where} without weights_only=True")
        if name.split(".")[0] in ("pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve") \
                and name.split(".")[-1] in ("load", "loads", "open", "Unpickler"):
            found.append(f"{where} unpickles")
        if name.endswith(("np.load", "numpy.load")) and _is_true(_keyword(node, "allow_pickle")):
            found.append(f"{where} with allow_pickle=True")
        if name in ("yaml.load", "yaml.load_all", "yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all"):
            found.append(f"{where} is not safe_load")
        if name in ("eval", "exec", "compile", "os.system", "os.popen", "__import__"):
            found.append(f"{where} runs text as code")
        if name.startswith("subprocess.") and _is_true(_keyword(node, "shell")):
            found.append(f"{where} with shell=True")
        if _is_true(_keyword(node, "trust_remote_code")):
            found.append(f"{where} with trust_remote_code=True hard-coded")
        if name.endswith(".from_pretrained") and not _is_true(_keyword(node, "local_files_only")):
            found.append(f"{where} without local_files_only=True (could download)")
    return found


def test_the_checker_sees_each_forbidden_call() -> None:
    bad = ("torch.load(p)\ntorch.load(p, weights_only=False)\npickle.loads(b)\nnp.load(p, allow_pickle=True)\n"
           "yaml.load(t)\neval(t)\nsubprocess.run(c, shell=True)\nM.from_pretrained(p, trust_remote_code=True)\n")
    assert len(_problems(bad)) == 9  # the last line is caught twice: remote code and no local_files_only
    good = ("torch.load(p, weights_only=True)\nyaml.safe_load(t)\nnp.load(p)\nast.literal_eval(t)\n"
            "M.from_pretrained(p, local_files_only=True, trust_remote_code=flag)\n")
    assert _problems(good) == []


def test_sources_never_unpickle_shell_out_or_hard_code_remote_code() -> None:
    assert len(SOURCES) > 40
    problems = [f"{path.relative_to(REPO)} {problem}" for path in SOURCES
                for problem in _problems(path.read_text(encoding="utf-8"))]
    assert problems == []


# --- a pickled payload handed to every checkpoint loader -------------------------------------


class _Payload:
    """Unpickling this creates a folder: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)


@pytest.fixture
def malicious(tmp_path: Path) -> tuple[Path, Path]:
    """A torch.save file whose unpickling runs ``os.mkdir``; and the folder it would create."""
    marker = tmp_path / "payload-ran"
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2), "x": _Payload(marker)}, path)
    return path, marker


def test_the_payload_is_live(malicious: tuple[Path, Path]) -> None:
    """Control: an unsafe load runs it, so the refusals below are meaningful."""
    path, marker = malicious
    torch.load(path, weights_only=False)
    assert marker.is_dir()


def _loaders(path: Path, tmp_path: Path) -> dict[str, object]:
    from biocl.encoders.audio import LogMelCNN
    from biocl.encoders.clap import CompactClap, load_clap
    from biocl.encoders.dna import load_dna_encoder
    from biocl.encoders.text import TextTransformer, WordTokenizer
    from biocl.pipelines.dna_species.training import load_embedding_model
    from biocl.train.checkpoint import load_state, recover_checkpoint
    from biocl.utils.weights import load_weights, read_weights

    clap_folder = tmp_path / "clap"
    tokenizer = WordTokenizer.build(["a dog", "a cat"])
    text = TextTransformer(vocab_size=len(tokenizer), d_model=16, n_layers=1, n_heads=2, ff_dim=32, max_tokens=8)
    CompactClap(LogMelCNN.tiny(), text, tokenizer, embed_dim=8).save(clap_folder)
    (clap_folder / "model.safetensors").write_bytes(path.read_bytes())
    state_folder = tmp_path / "state"
    state_folder.mkdir()
    (state_folder / "last.state.pt").write_bytes(path.read_bytes())
    return {
        "load_state": lambda: load_state(path),
        "recover_checkpoint": lambda: recover_checkpoint(state_folder, "last.state.pt"),
        "read_weights": lambda: read_weights(path),
        "load_weights": lambda: load_weights(torch.nn.Linear(2, 1), path),
        "load_dna_encoder": lambda: load_dna_encoder(path),
        "load_embedding_model": lambda: load_embedding_model(path),
        "load_clap": lambda: load_clap(clap_folder),
    }


def test_every_checkpoint_loader_refuses_a_pickle(malicious: tuple[Path, Path], tmp_path: Path) -> None:
    path, marker = malicious
    for name, load in _loaders(path, tmp_path).items():
        with pytest.raises(BioclError) as refused:
            load()
        assert "\n" not in refused.value.one_line(), name
        assert not marker.exists(), f"{name} ran code from the checkpoint"


# --- remote code in a pretrained folder runs only with --trust-remote-code ------------------


class _Refused(OSError):
    """Raised by the fake transformers after recording a call, so nothing is really loaded."""


def _fake_transformers(calls: list[dict]) -> types.SimpleNamespace:
    def from_pretrained(kind: str):
        def record(path: str, **kwargs):
            calls.append({"kind": kind, "path": path, **kwargs})
            if kind == "model":
                raise _Refused("stop after recording")
            return object()
        return staticmethod(record)

    return types.SimpleNamespace(AutoTokenizer=type("T", (), {"from_pretrained": from_pretrained("tokenizer")}),
                                 AutoModel=type("M", (), {"from_pretrained": from_pretrained("model")}))


@pytest.fixture
def hf_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "dnabert"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    return folder


@pytest.fixture
def transformers_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    from biocl.encoders.pretrained import dnabert

    calls: list[dict] = []
    monkeypatch.setattr(dnabert, "soft_import", lambda name, purpose, **kwargs: _fake_transformers(calls))
    return calls


@pytest.mark.parametrize("flag", [False, True])
def test_the_cli_passes_the_users_flag(flag: bool, hf_folder: Path, transformers_calls: list[dict],
                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from biocl.utils import console
    from biocl_cli.main import main
    from biocl_cli.output import state

    # main() sets process-wide quiet flags; put them back for the tests that follow.
    monkeypatch.setattr(state, "quiet", state.quiet)
    monkeypatch.setattr(console, "_quiet", console._quiet)
    monkeypatch.setenv("BIOCL_QUIET", os.environ.get("BIOCL_QUIET", "1"))
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\nACGTACGTAC\n>b\nGGGTTTAAAC\n")
    for command in (["dna", "embed", str(fasta), "--out", str(tmp_path / "e.npy")],
                    ["dna", "bin", str(fasta), "--steps", "0", "--min-length", "1", "--out", str(tmp_path / "bins")]):
        transformers_calls.clear()
        code = main(["--quiet", *command, "--model", str(hf_folder), *(["--trust-remote-code"] if flag else [])])
        assert code == 2  # the fake refuses to load the model: the command ends with a user error
        assert transformers_calls and all(c["trust_remote_code"] is flag and c["local_files_only"] is True
                                          for c in transformers_calls), transformers_calls
    assert not (tmp_path / "e.npy").exists()


@pytest.mark.parametrize("flag", [False, True])
def test_a_protocol_passes_its_flag_and_resolves_the_checkpoint_beside_itself(
        flag: bool, hf_folder: Path, transformers_calls: list[dict], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from biocl.pipelines.dna_species.pipeline import _build_encoder
    from biocl.protocols.base import load_protocol

    raw = yaml.safe_load((REPO / "protocols" / "dna_species_quick.yaml").read_text(encoding="utf-8"))
    raw["model"].update(encoder="pretrained", checkpoint="../models/dnabert", trust_remote_code=flag)
    protocol_path = tmp_path / "protocols" / "p.yaml"
    protocol_path.parent.mkdir()
    protocol_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(BioclError):
        _build_encoder(load_protocol("../protocols/p.yaml"))
    assert [Path(c["path"]).resolve() for c in transformers_calls] == [hf_folder.resolve()] * 2
    assert all(c["trust_remote_code"] is flag for c in transformers_calls)


def test_data_paths_resolve_beside_the_protocol_not_the_working_folder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from biocl.pipelines.audio_temporal import pipeline as audio_temporal
    from biocl.pipelines.brain_speech import data as brain_speech_data
    from biocl.protocols.base import load_protocol

    protocols = tmp_path / "study" / "protocols"
    protocols.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cases = {"brain_speech_quick": (["data.source=bids", "data.bids_root=../data/bids"], "data/bids",
                                    brain_speech_data.prepare_data),
             "audio_temporal_quick": (["data.source=manifest", "data.root=../data/manifest.csv"],
                                      "data/manifest.csv", audio_temporal.prepare_data)}
    for name, (overrides, expected, prepare) in cases.items():
        copy = protocols / f"{name}.yaml"
        copy.write_text((REPO / "protocols" / f"{name}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        protocol = load_protocol(copy, overrides)
        with pytest.raises(BioclError) as refused:
            prepare(protocol, cache_dir=tmp_path / "cache")
        assert refused.value.path == str((tmp_path / "study" / expected).resolve()), refused.value.one_line()


def _tiny_remote_code_folder(folder: Path, marker: Path) -> Path:
    """A Hugging Face folder with a working tokenizer and model code that leaves a mark when run."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder.mkdir(parents=True)
    vocab = {"[PAD]": 0, "[UNK]": 1, "A": 2, "C": 3, "G": 4, "T": 5}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast", '
                                                  '"pad_token": "[PAD]", "unk_token": "[UNK]"}')
    (folder / "config.json").write_text('{"model_type": "biocl_remote", "hidden_size": 8, "auto_map": '
                                        '{"AutoConfig": "remote_model.RemoteConfig", '
                                        '"AutoModel": "remote_model.RemoteModel"}}')
    (folder / "remote_model.py").write_text(
        "from pathlib import Path\n"
        "from transformers import PretrainedConfig, PreTrainedModel\n"
        f"Path({str(marker)!r}).mkdir()\n"
        "class RemoteConfig(PretrainedConfig):\n    model_type = 'biocl_remote'\n"
        "class RemoteModel(PreTrainedModel):\n    config_class = RemoteConfig\n")
    return folder


def test_code_in_a_model_folder_runs_only_with_trust_remote_code(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    import transformers.dynamic_module_utils as dynamic

    from biocl.encoders.pretrained.dnabert import PretrainedDnaEncoder

    # transformers copies remote code into a modules cache; keep it out of the user's home.
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "hf_modules"))
    marker = tmp_path / "remote-code-ran"
    folder = _tiny_remote_code_folder(tmp_path / "remote", marker)
    with pytest.raises(BioclError, match="ships its own code.*--trust-remote-code"):
        PretrainedDnaEncoder(folder)
    assert not marker.exists()
    with pytest.raises(BioclError):  # the code runs, then the model has no weights to load
        PretrainedDnaEncoder(folder, trust_remote_code=True)
    assert marker.is_dir()
