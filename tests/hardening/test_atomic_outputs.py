"""A result set appears whole or not at all (issue #15, class 4).

``biocl dna bin`` is killed (SIGKILL) in the middle of writing a new binning over an old one,
and fails on a full disk (a small tmpfs; skipped where mounting is not permitted): the old
folder is left byte for byte as it was, with no file of the new result mixed in, and the
command works again once there is space. ``biocl run`` is killed while it trains: the
earlier run folder beside it is untouched and the killed one holds no results.json.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BIOCL = Path(sys.executable).parent / "biocl"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "BIOCL_QUIET": "1"}

# Runs `biocl dna bin` in a process that SIGKILLs itself after the second file of the new binning is written.
_DIES_MID_WRITE = """
import os, signal, sys
import biocl.data.dna.bins as bins
real, written = bins.write_fasta, []
def dying(path, records):
    out = real(path, records)
    written.append(path)
    if len(written) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return out
bins.write_fasta = dying
from biocl_cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _contigs(path: Path, n: int = 12, length_bp: int = 3000) -> Path:
    rng = np.random.default_rng(5)
    path.write_text("".join(f">c{i}\n{''.join(rng.choice(list('ACGT'), length_bp))}\n" for i in range(n)))
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _bin(fasta: Path, out: Path, *extra: str, script: str | None = None) -> subprocess.CompletedProcess:
    args = ["dna", "bin", str(fasta), "--features", "tnf", "--min-bin-size", "1", "--out", str(out), *extra]
    command = [sys.executable, "-c", script, "--quiet", *args] if script else [str(BIOCL), "--quiet", *args]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=300)


def test_a_binning_killed_mid_write_leaves_the_previous_one_intact(tmp_path: Path) -> None:
    fasta = _contigs(tmp_path / "contigs.fa")
    out = tmp_path / "bins"
    assert _bin(fasta, out).returncode == 0
    before = _snapshot(out)
    killed = _bin(fasta, out, "--threshold", "0.5", "--overwrite", script=_DIES_MID_WRITE)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _snapshot(out) == before
    # The half-written result is only ever in a hidden folder beside the target, never inside it.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".bins.")]
    assert all(name.endswith(".tmp") for name in leftovers)
    again = _bin(fasta, out, "--threshold", "0.5", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert _snapshot(out) != before and "summary.json" in _snapshot(out)


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_one_line_and_the_binning_works_once_space_is_back(tmp_path: Path, small_tmpfs: Path) -> None:
    fasta = _contigs(tmp_path / "contigs.fa", n=20)
    out = small_tmpfs / "bins"
    assert _bin(fasta, out).returncode == 0
    before = _snapshot(out)
    filler = small_tmpfs / "filler"
    with open(filler, "wb", buffering=0) as handle:  # fill the disk to the last block
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    full = _bin(fasta, out, "--threshold", "0.5", "--overwrite")
    lines = full.stderr.strip().splitlines()
    assert full.returncode == 2 and len(lines) == 1, full.stderr
    assert "the disk is full" in lines[0] and "Traceback" not in full.stderr
    assert _snapshot(out) == before
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["bins", "filler"]
    filler.unlink()
    again = _bin(fasta, out, "--threshold", "0.5", "--overwrite")
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_a_run_killed_while_training_leaves_the_earlier_run_intact(tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "results.json").write_text('{"done": true}\n')
    (earlier / "metrics.jsonl").write_text('{"epoch": 0}\n')
    before = _snapshot(earlier)
    refused = subprocess.run([str(BIOCL), "--quiet", "run", "dna_species_quick", "--out", str(earlier)],
                             capture_output=True, text=True, env=ENV, timeout=300)
    assert refused.returncode == 2 and "already exists and is not empty" in refused.stderr
    killed = tmp_path / "killed"
    process = subprocess.Popen([str(BIOCL), "--quiet", "run", "dna_species_quick", "--out", str(killed)], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None and not (killed / "metrics.jsonl").exists():
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _snapshot(earlier) == before
    assert not (killed / "results.json").exists()
    assert not [p for p in killed.rglob("*.tmp")] or all(p.name.startswith(".") for p in killed.rglob("*.tmp"))
