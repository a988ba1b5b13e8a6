"""Remote code stays behind ``--trust-remote-code`` (issue #15, class 7), with transformers installed.

A local Hugging Face folder whose ``config.json`` has an ``auto_map`` naming a module of the
folder: importing that module would write a file. Without the flag, ``biocl dna embed``
must refuse in one line naming the flag, and the module must never have run. Needs the
test-only extra ``pip install -e .[test-remote]``; skipped without transformers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

BIOCL = Path(sys.executable).parent / "biocl"


def _hostile_model(folder: Path, marker: Path) -> Path:
    folder.mkdir()
    code = (f"open({str(marker)!r}, 'w').write('remote code ran')\n"
            "from transformers import PretrainedConfig, PreTrainedModel\n"
            "class EvilConfig(PretrainedConfig):\n    model_type = 'evil'\n"
            "class EvilModel(PreTrainedModel):\n    config_class = EvilConfig\n")
    (folder / "evil.py").write_text(code, encoding="utf-8")
    config = {"model_type": "evil", "hidden_size": 8, "architectures": ["EvilModel"],
              "auto_map": {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel",
                           "AutoTokenizer": ["evil.EvilTokenizer", None]}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["evil.EvilTokenizer",
                                                                                             None]}}))
    return folder


@pytest.mark.parametrize("command", ["embed", "bin"])
def test_a_model_shipping_code_does_not_run_without_the_flag(tmp_path: Path, command: str) -> None:
    marker = tmp_path / "REMOTE_CODE_RAN"
    model = _hostile_model(tmp_path / "model", marker)
    fasta = tmp_path / "x.fa"
    fasta.write_text(">a\n" + "ACGT" * 1000 + "\n>b\n" + "TTGCA" * 800 + "\n")
    out = tmp_path / "out"
    extra = ["--steps", "0"] if command == "embed" else ["--steps", "0", "--min-length", "0"]
    target = str(out / "e.npy") if command == "embed" else str(out)
    done = subprocess.run([str(BIOCL), "--quiet", "dna", command, str(fasta), "--model", str(model), *extra,
                           "--device", "cpu", "--out", target], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}, timeout=300)
    lines = done.stderr.strip().splitlines()
    assert not marker.exists(), "the folder's code ran without --trust-remote-code"
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1 and "--trust-remote-code" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists() or not any(out.rglob("*"))
